"""What an interrupted flow's recorded intent came to in Neon (pure, no I/O).

Every mutating flow records its intent in the meta database before it asks Neon (a restore's start and
target, a checkpoint's row with no snapshot yet). A flow killed after that leaves the intent behind; the
next flow on the project, under the project lock, settles it from what Neon shows before it mutates the
project itself, so the timeline follows Neon's order (meta/parents.py) and never the order in which flows
happened to resume.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from neon_api.models import Branch, Operation, Snapshot
from neon_checkpoints.meta.records import UnsettledCheckpoint, UnsettledRestore
from neon_checkpoints.names import PREVIEW_BRANCH_PREFIX, undo_preserve_name

# Neon stamps a restored branch's created_at with its own clock; ours recorded the intent. Allow for skew
# between the two (and for second-resolution timestamps) when asking "was this branch made after we asked?".
CLOCK_SLACK = dt.timedelta(seconds=5)


@dataclass(frozen=True)
class Intent:
    """Recorded in the meta DB before the restore request: when we asked and which branch we targeted."""

    started_at: dt.datetime
    target_branch_id: str


def find_earlier_restore(
    restored: Iterable[Branch], *, mode: str, intent: Intent | None, preview_name: str
) -> Branch | None:
    """The branch an earlier attempt of THIS restore made, if any.

    Preview: the branch under our deterministic name. Finalize (Neon renames the new branch after the
    target, so names cannot tell): a branch restored from our snapshot onto the target we recorded, created
    after the recorded start. Other restores of the same snapshot are older, aimed at another target (a
    finalized target becomes `<name> (old)` and is never a target again), or previews (our name prefix).
    """
    if mode == "Preview":
        return next((b for b in restored if b.name == preview_name), None)
    if intent is None:
        return None
    since = intent.started_at - CLOCK_SLACK
    candidates = [
        b
        for b in restored
        if b.restored_as == intent.target_branch_id
        and b.created_at >= since
        and not b.name.startswith(PREVIEW_BRANCH_PREFIX)
    ]
    return min(candidates, key=lambda b: b.created_at, default=None)


@dataclass(frozen=True)
class RestoreTookEffect:
    """Neon did it: production became `restored_branch_id`, replacing `replaced_branch_id`; `made` is the
    branch the request made (the restored branch, or an undo's preserved one)."""

    restored_branch_id: str
    replaced_branch_id: str
    made: Branch


@dataclass(frozen=True)
class RestoreNeverAsked:
    """No branch of it in Neon: the request never reached Neon (or was refused); as if not begun."""


@dataclass(frozen=True)
class SnapshotTaken:
    snapshot: Snapshot


@dataclass(frozen=True)
class SnapshotNeverTaken:
    pass


def settle_restore(
    row: UnsettledRestore, branches: Sequence[Branch]
) -> RestoreTookEffect | RestoreNeverAsked:
    if row.target_branch_id is None:
        return RestoreNeverAsked()
    if row.mode == "Undo":
        # An undo always keeps production's state under a name derived from its uid (restore/undo.py).
        name = undo_preserve_name(row.uid)
        preserved = next((b for b in branches if b.name == name), None)
        if preserved is None:
            return RestoreNeverAsked()
        return RestoreTookEffect(row.target_branch_id, preserved.id, preserved)
    if row.snapshot_id is None:
        return RestoreNeverAsked()
    branch = find_earlier_restore(
        (b for b in branches if b.restored_from == row.snapshot_id),
        mode="Finalize",
        intent=Intent(row.started_at, row.target_branch_id),
        preview_name="",
    )
    if branch is None:
        return RestoreNeverAsked()
    return RestoreTookEffect(branch.id, branch.restored_as or row.target_branch_id, branch)


def settle_checkpoint(
    row: UnsettledCheckpoint, snapshots: Sequence[Snapshot]
) -> SnapshotTaken | SnapshotNeverTaken:
    found = next((s for s in snapshots if row.snapshot_name and s.name == row.snapshot_name), None)
    return SnapshotTaken(found) if found is not None else SnapshotNeverTaken()


def neon_time(operations: Iterable[Operation], made: Branch | None, fallback: dt.datetime) -> dt.datetime:
    """When a restore or undo took effect by Neon's record: its operations' last finish, else the creation
    of the branch it made (the same place in the project's history, since Neon runs one mutation of a
    project at a time), else `fallback`."""
    finished = [op.updated_at for op in operations if op.succeeded]
    if finished:
        return max(finished)
    return made.created_at if made is not None else fallback
