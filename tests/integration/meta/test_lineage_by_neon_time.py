"""The meta store places lineage by Neon's times, not by when rows were written (issue 20 item 8, issue 14
item 3), and keeps the intents that settling (settle/) reads: on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from neon_checkpoints.meta.records import CheckpointRecord, RestoreRecord
from neon_checkpoints.meta.store import MetaStore
from tests.integration.meta.test_meta_store import checkpoint

pytestmark = pytest.mark.postgres

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def t(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
async def store(fresh_database: str) -> AsyncIterator[MetaStore]:
    store = await MetaStore.open(fresh_database, max_size=4)
    try:
        yield store
    finally:
        await store.close()


async def taken(store: MetaStore, uid: str, at: float) -> int:
    return (await store.upsert_checkpoint(checkpoint(uid, snapshot_created_at=t(at)))).id


async def restored(
    store: MetaStore, uid: str, to: int | None, at: float, *, undo_of: str | None = None
) -> None:
    """A restore (or an undo) that took effect in Neon at `at`, recorded now."""
    record = RestoreRecord(
        uid=uid,
        namespace="apps",
        name=uid,
        project_id="p-1",
        branch_name="production",
        mode="Undo" if undo_of else "Finalize",
        phase="Restoring",
        checkpoint_id=to,
        target_branch_id="br-prod",
        started_at=t(at - 0.5),
        undo_of=undo_of,
    )
    await store.upsert_restore(record)
    await store.mark_database_restored(uid, f"br-{uid}", "br-prod", t(at))


async def parent_of(store: MetaStore, uid: str) -> int | None:
    row = await store.get_checkpoint(uid)
    assert row is not None
    return row.parent_checkpoint_id


async def test_restores_recorded_out_of_order_count_by_when_neon_ran_them(store: MetaStore) -> None:
    c0 = await taken(store, "c0", 1)
    await taken(store, "c1", 2)
    c3 = await taken(store, "c3", 3)
    # r3 (to c3) ran in Neon at t=5 and was recorded first; c9 was taken after it.
    await restored(store, "r3", c3, 5)
    c9 = await taken(store, "c9", 6)
    # r0 (to c0) was accepted by Neon at t=4, the operator killed; recorded only now.
    await restored(store, "r0", c0, 4)
    assert await taken(store, "next", 7) and await parent_of(store, "next") == c9
    # A checkpoint whose snapshot Neon took between r0 and r3, recorded last.
    await taken(store, "between", 4.5)
    assert await parent_of(store, "between") == c0
    assert await parent_of(store, "c9") == c3


async def test_after_an_undo_the_parent_is_what_production_was_before_the_undone_restore(
    store: MetaStore,
) -> None:
    v1 = await taken(store, "v1", 1)
    await taken(store, "v2", 2)
    v3 = await taken(store, "v3", 3)
    await restored(store, "back-to-v1", v1, 4)
    await restored(store, "undo", None, 5, undo_of="back-to-v1")
    await taken(store, "v4", 6)
    assert await parent_of(store, "v4") == v3
    await restored(store, "undo-undo", None, 7, undo_of="undo")
    await taken(store, "v5", 8)
    assert await parent_of(store, "v5") == v1


async def test_a_checkpoint_intent_is_unsettled_until_settled_and_not_on_the_timeline(
    store: MetaStore,
) -> None:
    await taken(store, "v1", 1)
    intent = CheckpointRecord(
        uid="k",
        namespace="apps",
        name="k",
        project_id="p-1",
        branch_name="production",
        phase="Pending",
        snapshot_name="ckpt-k",
    )
    await store.record_checkpoint_intent(intent)
    restores, checkpoints = await store.unsettled("p-1", "other")
    assert restores == [] and [(c.uid, c.snapshot_name) for c in checkpoints] == [("k", "ckpt-k")]
    assert (await store.unsettled("p-1", "k"))[1] == []  # never one's own
    assert [c.uid for c in await store.list_checkpoints("p-1")] == ["v1"]

    await store.settle_snapshot("k", "snap-k", "br-prod", t(2))
    assert await store.unsettled("p-1", "other") == ([], [])
    k = await store.get_checkpoint("k")
    assert k is not None and k.phase == "Creating"
    # Settled, it is in the lineage before its own flow records it Ready.
    await taken(store, "v3", 3)
    assert await parent_of(store, "v3") == k.id

    await store.record_checkpoint_intent(CheckpointRecord(**{**intent.__dict__, "uid": "gone"}))
    await store.drop_checkpoint_intent("gone")
    await store.drop_checkpoint_intent("k")  # one with a snapshot stays
    assert await store.get_checkpoint("gone") is None and await store.get_checkpoint("k") is not None


async def test_restore_intents_settle_and_a_superseded_restore_knows_by_which(store: MetaStore) -> None:
    v1 = await taken(store, "v1", 1)
    record = RestoreRecord(
        uid="r0",
        namespace="apps",
        name="r0",
        project_id="p-1",
        branch_name="production",
        mode="Finalize",
        phase="Restoring",
        checkpoint_id=v1,
        target_branch_id="br-prod",
        started_at=t(2),
    )
    await store.upsert_restore(record)
    [unsettled], [] = await store.unsettled("p-1", "other")
    assert (unsettled.uid, unsettled.snapshot_id, unsettled.target_branch_id) == ("r0", "snap-v1", "br-prod")

    await store.drop_restore_intent("r0")
    row = await store.get_restore("r0")
    assert row is not None and (row.started_at, row.target_branch_id, row.phase) == (None, None, "Pending")
    assert await store.unsettled("p-1", "other") == ([], [])

    await restored(store, "r0", v1, 3)
    await restored(store, "r1", v1, 4)
    later = await store.superseded_by("r0")
    assert later is not None and later.uid == "r1"
    assert await store.superseded_by("r1") is None
