"""Which checkpoint production was at, by Neon's times (meta/parents.py): the parent a checkpoint gets,
whatever order the operator recorded things in (situations of issue 20 item 8 and issue 14 item 3)."""

from __future__ import annotations

import datetime as dt

import pytest

from neon_checkpoints.meta.parents import CheckpointEvent, RestoreEvent, production_at

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def t(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def ckpt(id: int, at: float) -> CheckpointEvent:
    return CheckpointEvent(id, f"c{id}", t(at))


def restore(uid: str, at: float, to: int) -> RestoreEvent:
    return RestoreEvent(uid, t(at), to)


def undo(uid: str, at: float, of: str) -> RestoreEvent:
    return RestoreEvent(uid, t(at), None, undo_of=of)


V1, V2, V3 = ckpt(1, 1), ckpt(2, 2), ckpt(3, 3)

SITUATIONS = {
    "first checkpoint": ([], [], 1, None),
    "the previous checkpoint": ([V1, V2], [], 2.5, 2),
    "later checkpoints do not count": ([V1, V2, V3], [], 2.5, 2),
    "after a finalized restore: the checkpoint it restored": ([V1, V2, V3], [restore("r", 4, 1)], 5, 1),
    "a checkpoint after the restore": ([V1, V2, V3, ckpt(4, 5)], [restore("r", 4, 1)], 6, 4),
    # Issue 20: r0 accepted by Neon at t=4, the operator killed; r3 ran next (t=5), c9 after it (t=6);
    # r0's row was recorded last, but Neon ran it first.
    "a restore recorded late counts when Neon ran it": (
        [V1, V2, V3, ckpt(9, 6)],
        [restore("r3", 5, 3), restore("r0", 4, 1)],
        7,
        9,
    ),
    "a snapshot taken before a restore recorded after it": (
        [V1, V2, V3],
        [restore("r", 4, 1)],
        3.5,
        3,
    ),
    # Issue 14 item 3: v3 -> restore to v1 -> undo: production is v3 again.
    "after an undo: what production was at before the undone restore": (
        [V1, V2, V3],
        [restore("r", 4, 1), undo("u", 5, "r")],
        6,
        3,
    ),
    "after an undo of an undo: the undone undo's restore again": (
        [V1, V2, V3],
        [restore("r", 4, 1), undo("u", 5, "r"), undo("uu", 6, "u")],
        7,
        1,
    ),
    "an undo drops what was checkpointed after the restore": (
        [V1, V2, V3, ckpt(4, 5)],
        [restore("r", 4, 1), undo("u", 6, "r")],
        7,
        3,
    ),
    "an undo of a restore not on this timeline keeps the head": (
        [V1, V2],
        [undo("u", 3, "elsewhere")],
        4,
        2,
    ),
    "a restore before any checkpoint": ([V1], [restore("r", 0.5, 7)], 0.7, 7),
    "same time: the restore comes after the checkpoint": ([ckpt(5, 4)], [restore("r", 4, 1)], 4.5, 1),
}


@pytest.mark.parametrize(
    ("checkpoints", "restores", "at", "parent"), SITUATIONS.values(), ids=SITUATIONS.keys()
)
def test_production_at(
    checkpoints: list[CheckpointEvent], restores: list[RestoreEvent], at: float, parent: int | None
) -> None:
    assert production_at(t(at), checkpoints, restores) == parent


def test_the_checkpoint_being_recorded_is_not_its_own_parent() -> None:
    own = ckpt(3, 3)
    assert production_at(t(3.5), [V1, V2, own], [], exclude_uid=own.uid) == 2
