"""What to do next for a Checkpoint, decided from the spec and what Neon reports (pure, no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from neon_api.models import Branch, Operation, Snapshot
from neon_checkpoints.checkpoint.spec import CheckpointSpec


class Phase(StrEnum):
    PENDING = "Pending"
    QUEUED = "Queued"
    CREATING = "Creating"
    READY = "Ready"
    FAILED = "Failed"
    DELETING = "Deleting"


class Step(StrEnum):
    """What just happened to a Checkpoint."""

    RECEIVED = "received"
    QUEUED = "queued"
    SNAPSHOT_ACCEPTED = "snapshot-accepted"
    OPERATIONS_FINISHED = "operations-finished"
    RETRYING = "retrying"
    FAILED = "failed"
    DELETE_REQUESTED = "delete-requested"
    SPEC_CHANGED = "spec-changed"


@dataclass(frozen=True)
class Observed:
    """Neon's view: the branch the spec names (None: not found) and the snapshot under our name."""

    branch: Branch | None
    snapshot: Snapshot | None


@dataclass(frozen=True)
class TakeSnapshot:
    branch_id: str
    name: str
    expires_at: dt.datetime | None


@dataclass(frozen=True)
class AdoptSnapshot:
    """A snapshot under our deterministic name exists: an earlier attempt made it (crash, retry)."""

    snapshot: Snapshot


@dataclass(frozen=True)
class Fail:
    reason: str
    message: str


CreateAction = TakeSnapshot | AdoptSnapshot | Fail


def plan_create(
    spec: CheckpointSpec, observed: Observed, *, snapshot_name: str, created_at: dt.datetime
) -> CreateAction:
    if observed.snapshot is not None:
        return AdoptSnapshot(observed.snapshot)
    if observed.branch is None:
        which = f"branch named {spec.branch!r}" if spec.branch else "default branch"
        return Fail("BranchNotFound", f"Neon project {spec.project_id} has no {which}")
    expires_at = spec.expiry(created_at)
    if expires_at is not None and expires_at <= created_at:
        return Fail(
            "InvalidExpiry", f"spec.expiresAt {expires_at.isoformat()} is not after the creation time"
        )
    return TakeSnapshot(observed.branch.id, snapshot_name, expires_at)


def snapshot_may_exist(status: Mapping[str, object]) -> bool:
    """Whether an earlier run may already have asked Neon for this Checkpoint's snapshot, so the flow must
    look for it (list the project's snapshots) before a POST.

    Every run marks `createPending` in status before its POST (Crossplane's create-pending guard), so a
    run that finds neither the marker nor a snapshot id knows no POST was ever sent, and skips the listing.
    A POST refused as a duplicate name (409) is the second guard: the flow then looks and adopts."""
    return bool(status.get("createPending") or status.get("snapshotId"))


def needs_snapshot_listing(snapshot: Snapshot) -> bool:
    """After the wait: whether the snapshot as last seen lacks what Ready records (Neon fills `lsn` once
    the snapshot is complete; the POST's answer or the listing already fetched may carry it)."""
    return snapshot.lsn is None


def operation_entries(operations: Iterable[Operation]) -> list[dict[str, str]]:
    """Operations as status lists them."""
    return [{"id": op.id, "action": op.action, "status": op.status} for op in operations]


def adopted_snapshot_operations(
    snapshot: Snapshot,
    recorded: Sequence[Mapping[str, str]],
    project_operations: Sequence[Operation] = (),
) -> list[dict[str, str]]:
    """What to wait for when adopting a snapshot an earlier attempt made (`AdoptSnapshot`).

    The operations that attempt recorded in status; if it died before recording them (`recorded` empty),
    the project's operations still in progress that started since the snapshot (`project_operations`: the
    project's listing, which the flow asks Neon for only then; a rare path). Older ones are not this
    snapshot's."""
    if recorded:
        return [dict(entry) for entry in recorded]
    return operation_entries(
        op for op in project_operations if op.in_progress and op.created_at >= snapshot.created_at
    )


def pick_default_branch(branches: list[Branch]) -> Branch | None:
    return next((b for b in branches if b.default), None)


# (current phase, step) -> next phase; anything absent keeps the current phase.
_TRANSITIONS: dict[tuple[Phase | None, Step], Phase] = {
    (None, Step.RECEIVED): Phase.PENDING,
    (None, Step.QUEUED): Phase.QUEUED,
    (Phase.PENDING, Step.QUEUED): Phase.QUEUED,
    (None, Step.RETRYING): Phase.PENDING,
}


def next_phase(current: Phase | None, step: Step) -> Phase:
    """The phase after `step`. Ready and Failed are final for the create flow; only deletion leaves them
    (a transient error after Ready, e.g. while refreshing status, must not demote a usable checkpoint)."""
    if step is Step.DELETE_REQUESTED:
        return Phase.DELETING
    if current in (Phase.READY, Phase.FAILED, Phase.DELETING):
        return current
    if step is Step.SNAPSHOT_ACCEPTED:
        return Phase.CREATING
    if step is Step.OPERATIONS_FINISHED:
        return Phase.READY
    if step is Step.FAILED:
        return Phase.FAILED
    if (current, step) in _TRANSITIONS:
        return _TRANSITIONS[(current, step)]
    return current if current is not None else Phase.PENDING


def ready_condition_status(phase: Phase) -> str:
    return "True" if phase is Phase.READY else "False"


@dataclass(frozen=True)
class ChangeExpiry:
    """Move the snapshot's Neon-side expiry to `expires_at` (None: the snapshot no longer expires)."""

    expires_at: dt.datetime | None


def plan_expiry_change(
    spec: CheckpointSpec,
    *,
    phase: Phase | None,
    snapshot_id: str | None,
    created_at: dt.datetime,
    recorded: dt.datetime | None,
    now: dt.datetime,
) -> ChangeExpiry | None:
    """After an edit of `ttl`/`expiresAt`: whether the snapshot's expiry must follow.

    Only a Ready checkpoint has a snapshot to change (one still being created takes the spec it reads).
    `recorded` is status.expiresAt, in whole seconds. A new expiry already past is left to the expiry
    handler, which deletes the Checkpoint (Neon refuses an expiry in the past)."""
    if phase is not Phase.READY or not snapshot_id:
        return None
    wanted = spec.expiry(created_at)
    if wanted is not None:
        wanted = wanted.replace(microsecond=0)
    if wanted == recorded or (wanted is not None and wanted <= now):
        return None
    return ChangeExpiry(wanted)
