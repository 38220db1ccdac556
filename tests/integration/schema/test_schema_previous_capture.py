"""Which earlier capture a schema capture may compare with (meta/schemas.py `previous_capture`), on a real
PostgreSQL: the newest other capture of the database on the same branch, never a deleted checkpoint's, never
one from before a finalized restore on the project (an undo restores onto a branch that keeps its id: an
older lsn then names another history)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from neon_checkpoints.meta.records import CheckpointRecord, RestoreRecord
from neon_checkpoints.meta.schemas import StoredSchema
from neon_checkpoints.meta.store import MetaStore

pytestmark = pytest.mark.postgres


@pytest.fixture
async def store(fresh_database: str) -> AsyncIterator[MetaStore]:
    store = await MetaStore.open(fresh_database, max_size=4)
    try:
        yield store
    finally:
        await store.close()


async def _captured(store: MetaStore, uid: str, lsn: str | None, digest: str, branch: str = "br-1") -> int:
    row = await store.upsert_checkpoint(
        CheckpointRecord(uid=uid, namespace="apps", name=uid, project_id="p-1", branch_name="production",
                         phase="Ready", source_branch_id=branch, snapshot_id=f"snap-{uid}",
                         snapshot_name=uid, lsn=lsn)
    )  # fmt: skip
    await store.record_schema_capture(
        row.id, {"neondb": StoredSchema(digest, f"-- {digest}\n", {"tables": []})}
    )
    return row.id


async def test_the_newest_other_capture_of_the_branch_and_database(store: MetaStore) -> None:
    first = await _captured(store, "a", "0/10", "d1")
    second = await _captured(store, "b", "0/20", "d2")
    await _captured(store, "other-branch", "0/30", "d3", branch="br-2")
    await _captured(store, "no-lsn", None, "d4")
    found = await store.previous_schema_capture(999, "p-1", "br-1", "neondb")
    assert found is not None and (found.checkpoint_id, found.lsn, found.schema.digest) == (
        second,
        "0/20",
        "d2",
    )
    assert found.schema.sql == "-- d2\n"
    mine = await store.previous_schema_capture(second, "p-1", "br-1", "neondb")  # never itself
    assert mine is not None and mine.checkpoint_id == first
    assert await store.previous_schema_capture(999, "p-1", "br-1", "app") is None
    assert await store.previous_schema_capture(999, "p-2", "br-1", "neondb") is None


async def test_not_a_deleted_checkpoint_nor_one_from_before_a_finalized_restore(store: MetaStore) -> None:
    await _captured(store, "a", "0/10", "d1")
    await _captured(store, "b", "0/20", "d2")
    await store.mark_checkpoint_deleted("b")
    found = await store.previous_schema_capture(999, "p-1", "br-1", "neondb")
    assert found is not None and found.schema.digest == "d1"
    await store.upsert_restore(
        RestoreRecord(uid="r-1", namespace="apps", name="undo", project_id="p-1", branch_name="production",
                      mode="Preview", phase="Succeeded")
    )  # fmt: skip
    assert (
        await store.previous_schema_capture(999, "p-1", "br-1", "neondb") is not None
    )  # a preview: no effect
    await store.upsert_restore(
        RestoreRecord(uid="r-2", namespace="apps", name="undo", project_id="p-1", branch_name="production",
                      mode="Finalize", phase="Succeeded")
    )  # fmt: skip
    assert await store.previous_schema_capture(999, "p-1", "br-1", "neondb") is None
    after = await _captured(store, "c", "0/40", "d3")
    found = await store.previous_schema_capture(999, "p-1", "br-1", "neondb")
    assert found is not None and found.checkpoint_id == after
