"""Which checkpoint production was at, at a moment of Neon's clock (pure): the timeline's lineage.

Events are placed by Neon's own record, never by when the operator wrote a row: a checkpoint at its
snapshot's `created_at`, a finalized restore or an undo when Neon made it happen (its operations' finish
or the branch it made, restores.database_restored_at). Neon runs one mutation of a project at a time
(423 while one runs), so these times order the project's history exactly even when the operator recorded
them late, after a crash, in another order.

What production is at:
- after a checkpoint: that checkpoint;
- after a finalized restore: the checkpoint it restored;
- after an undo of restore R: what production was at just before R (an undo of an undo likewise).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CheckpointEvent:
    id: int
    uid: str
    at: dt.datetime


@dataclass(frozen=True)
class RestoreEvent:
    uid: str
    at: dt.datetime
    # A finalized restore: the checkpoint it restored. An undo: None, and `undo_of` names the restore.
    checkpoint_id: int | None
    undo_of: str | None = None


Event = CheckpointEvent | RestoreEvent


def _order(event: Event) -> tuple[dt.datetime, int, int | str]:
    # Equal times (Neon's timestamps may be whole seconds): a restore after the checkpoint it may restore.
    if isinstance(event, CheckpointEvent):
        return (event.at, 0, event.id)
    return (event.at, 1, event.uid)


def production_at(
    at: dt.datetime,
    checkpoints: Iterable[CheckpointEvent],
    restores: Iterable[RestoreEvent],
    *,
    exclude_uid: str | None = None,
) -> int | None:
    """The id of the checkpoint production was at just before `at` (None: none yet): a checkpoint taken
    at `at` has it as its parent. `exclude_uid`: the checkpoint being recorded itself."""
    earlier: list[Event] = [c for c in checkpoints if c.uid != exclude_uid and c.at < at]
    earlier += [r for r in restores if r.at < at]
    head: int | None = None
    before: dict[str, int | None] = {}  # restore uid -> what production was at just before it
    for event in sorted(earlier, key=_order):
        if isinstance(event, CheckpointEvent):
            head = event.id
            continue
        before[event.uid] = head
        # An undo of a restore not on this timeline (never recorded here) leaves the head as it is.
        head = event.checkpoint_id if event.undo_of is None else before.get(event.undo_of, head)
    return head
