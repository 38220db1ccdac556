"""What an interrupted flow's recorded intent came to in Neon (settle/plan.py): situations after a kill -9
between recording the intent and recording the result."""

from __future__ import annotations

import datetime as dt

import pytest

from neon_api.models import Branch, Operation, Snapshot
from neon_checkpoints.meta.records import UnsettledCheckpoint, UnsettledRestore
from neon_checkpoints.names import preview_branch_name, undo_preserve_name
from neon_checkpoints.settle.plan import (
    CLOCK_SLACK,
    RestoreNeverAsked,
    RestoreTookEffect,
    SnapshotNeverTaken,
    SnapshotTaken,
    neon_time,
    settle_checkpoint,
    settle_restore,
)

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def branch(
    id: str, name: str, *, at: float = 1, restored_from: str | None = None, restored_as: str | None = None
) -> Branch:
    return Branch(
        id=id,
        project_id="p-1",
        name=name,
        parent_id=None,
        default=name == "production",
        protected=False,
        current_state="ready",
        created_at=T0 + dt.timedelta(seconds=at),
        restored_from=restored_from,
        restored_as=restored_as,
    )


def restore_row(mode: str = "Finalize", **extra: object) -> UnsettledRestore:
    fields: dict[str, object] = {
        "uid": "r-uid",
        "name": "back-to-v1",
        "mode": mode,
        "branch_name": "production",
        "started_at": T0,
        "target_branch_id": "br-prod",
        "operation_ids": [],
        "snapshot_id": "snap-v1",
    }
    fields.update(extra)
    return UnsettledRestore(**fields)  # type: ignore[arg-type]


PROD_OLD = branch("br-prod", "production (old)", at=-100)
OURS = branch("br-new", "production", at=1, restored_from="snap-v1", restored_as="br-prod")

RESTORES = {
    "Neon made our branch: it took effect": (
        restore_row(),
        [PROD_OLD, OURS],
        ("br-new", "br-prod", "br-new"),
    ),
    "no branch from our snapshot: never asked": (restore_row(), [PROD_OLD], None),
    "a branch from our snapshot onto another target: not ours": (
        restore_row(),
        [PROD_OLD, branch("br-x", "production", restored_from="snap-v1", restored_as="br-other")],
        None,
    ),
    "an older restore of the same snapshot: not ours": (
        restore_row(),
        [PROD_OLD, branch("br-x", "x", at=-60, restored_from="snap-v1", restored_as="br-prod")],
        None,
    ),
    "made within the clock slack before our start: ours": (
        restore_row(),
        [
            PROD_OLD,
            branch(
                "br-x",
                "production",
                at=-CLOCK_SLACK.total_seconds() + 1,
                restored_from="snap-v1",
                restored_as="br-prod",
            ),
        ],
        ("br-x", "br-prod", "br-x"),
    ),
    "a preview of the same snapshot: not ours": (
        restore_row(),
        [PROD_OLD, branch("br-x", preview_branch_name("x"), restored_from="snap-v1", restored_as="br-prod")],
        None,
    ),
    "no target recorded: never asked": (restore_row(target_branch_id=None), [PROD_OLD, OURS], None),
    "undo whose preserved branch exists: it took effect": (
        restore_row("Undo", snapshot_id=None),
        [PROD_OLD, branch("br-kept", undo_preserve_name("r-uid"))],
        ("br-prod", "br-kept", "br-kept"),
    ),
    "undo with no preserved branch: never asked": (restore_row("Undo", snapshot_id=None), [PROD_OLD], None),
}


@pytest.mark.parametrize(("row", "branches", "expected"), RESTORES.values(), ids=RESTORES.keys())
def test_settle_restore(
    row: UnsettledRestore, branches: list[Branch], expected: tuple[str, str, str] | None
) -> None:
    outcome = settle_restore(row, branches)
    if expected is None:
        assert outcome == RestoreNeverAsked()
    else:
        assert isinstance(outcome, RestoreTookEffect)
        assert (outcome.restored_branch_id, outcome.replaced_branch_id, outcome.made.id) == expected


def snapshot(name: str) -> Snapshot:
    return Snapshot(id=f"snap-{name}", name=name, source_branch_id="br-prod", created_at=T0)


def test_settle_checkpoint_finds_its_snapshot_by_name() -> None:
    row = UnsettledCheckpoint("c-uid", "ckpt-c-uid")
    assert settle_checkpoint(row, [snapshot("other"), snapshot("ckpt-c-uid")]) == SnapshotTaken(
        snapshot("ckpt-c-uid")
    )
    assert settle_checkpoint(row, [snapshot("other")]) == SnapshotNeverTaken()
    assert (
        settle_checkpoint(UnsettledCheckpoint("c-uid", None), [snapshot("ckpt-c-uid")])
        == SnapshotNeverTaken()
    )


def op(status: str, at: float) -> Operation:
    moment = T0 + dt.timedelta(seconds=at)
    return Operation(
        id=f"op-{at}",
        project_id="p-1",
        branch_id="br-new",
        endpoint_id=None,
        action="create_branch",
        status=status,
        error=None,
        failures_count=0,
        created_at=T0,
        updated_at=moment,
    )


def test_neon_time_is_the_last_finished_operation_else_the_branch_made() -> None:
    fallback = T0 + dt.timedelta(days=1)
    assert neon_time(
        [op("finished", 2), op("finished", 3), op("running", 9)], OURS, fallback
    ) == T0 + dt.timedelta(seconds=3)
    assert neon_time([op("running", 9)], OURS, fallback) == OURS.created_at
    assert neon_time([], None, fallback) == fallback
