"""The meta store on a real PostgreSQL: migrations, upserts keyed by uid, lineage across restores, locks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest

from neon_checkpoints.meta.locks import ProjectBusy
from neon_checkpoints.meta.migrations import apply_migrations
from neon_checkpoints.meta.records import CheckpointRecord, RestoreRecord
from neon_checkpoints.meta.schema import MIGRATIONS, Migration
from neon_checkpoints.meta.store import MetaStore

pytestmark = pytest.mark.postgres


@pytest.fixture
async def store(fresh_database: str) -> AsyncIterator[MetaStore]:
    store = await MetaStore.open(fresh_database, max_size=4)
    try:
        yield store
    finally:
        await store.close()


def checkpoint(
    uid: str, *, branch: str = "production", project: str = "p-1", **extra: object
) -> CheckpointRecord:
    fields: dict[str, object] = {
        "uid": uid,
        "namespace": "apps",
        "name": f"ckpt-{uid}",
        "project_id": project,
        "branch_name": branch,
        "phase": "Ready",
        "snapshot_id": f"snap-{uid}",
        "snapshot_name": f"ckpt-{uid}",
        "source_branch_id": "br-prod-1",
    }
    fields.update(extra)
    return CheckpointRecord(**fields)  # type: ignore[arg-type]


def tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


async def test_open_creates_the_schema_and_records_the_version(fresh_database: str) -> None:
    store = await MetaStore.open(fresh_database)
    await store.close()
    assert tables(fresh_database) == {
        "schema_migrations",
        "checkpoints",
        "restores",
        # migration 3: schemas captured at checkpoint time
        "schemas",
        "schema_captures",
        "checkpoint_schemas",
        # migration 4: workloads recorded with checkpoints and restores
        "workload_revisions",
        "checkpoint_workloads",
        "restore_workloads",
    }
    with psycopg.connect(fresh_database) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [m.version for m in MIGRATIONS]


async def test_migrations_twice_is_a_no_op(fresh_database: str) -> None:
    async with await psycopg.AsyncConnection.connect(fresh_database) as conn:
        first = await apply_migrations(conn)
        second = await apply_migrations(conn)
    assert first == [m.version for m in MIGRATIONS]
    assert second == []


async def test_concurrent_startups_apply_each_migration_once(fresh_database: str) -> None:
    async def start() -> list[int]:
        async with await psycopg.AsyncConnection.connect(fresh_database) as conn:
            return await apply_migrations(conn)

    results = await asyncio.gather(*(start() for _ in range(4)))
    assert sorted(v for r in results for v in r) == [m.version for m in MIGRATIONS]


async def test_a_failing_migration_rolls_back_alone(fresh_database: str) -> None:
    broken = (
        *MIGRATIONS,
        Migration(99, "broken", "CREATE TABLE half_done (id int); SELECT no_such_function();"),
    )
    async with await psycopg.AsyncConnection.connect(fresh_database) as conn:
        with pytest.raises(psycopg.errors.UndefinedFunction):
            await apply_migrations(conn, broken)
    assert "half_done" not in tables(fresh_database)
    assert "checkpoints" in tables(fresh_database)
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (
            MIGRATIONS[-1].version,
        )


async def test_upsert_is_keyed_by_uid(store: MetaStore) -> None:
    first = await store.upsert_checkpoint(checkpoint("u1", phase="Creating", snapshot_id=None))
    second = await store.upsert_checkpoint(checkpoint("u1", source={"commit": "3f2c9e1", "n": 1}))
    assert second.id == first.id
    assert second.snapshot_id == "snap-u1"
    assert second.source == {"commit": "3f2c9e1", "n": 1}
    assert first.ready_at is None and second.ready_at is not None
    assert len(await store.list_checkpoints("p-1")) == 1


async def test_a_later_write_never_erases_known_facts(store: MetaStore) -> None:
    await store.upsert_checkpoint(checkpoint("u1", lsn="0/16B3748"))
    again = await store.upsert_checkpoint(checkpoint("u1", lsn=None, snapshot_id=None))
    assert again.lsn == "0/16B3748"
    assert again.snapshot_id == "snap-u1"


async def test_parent_is_the_previous_checkpoint_on_the_same_project_and_branch(store: MetaStore) -> None:
    a = await store.upsert_checkpoint(checkpoint("a"))
    other_branch = await store.upsert_checkpoint(checkpoint("x", branch="staging"))
    other_project = await store.upsert_checkpoint(checkpoint("y", project="p-2"))
    b = await store.upsert_checkpoint(checkpoint("b"))
    c = await store.upsert_checkpoint(checkpoint("c"))
    assert a.parent_checkpoint_id is None
    assert other_branch.parent_checkpoint_id is None
    assert other_project.parent_checkpoint_id is None
    assert b.parent_checkpoint_id == a.id
    assert c.parent_checkpoint_id == b.id
    # Re-recording an existing checkpoint keeps its place in the timeline.
    assert (await store.upsert_checkpoint(checkpoint("b"))).parent_checkpoint_id == a.id


async def test_parent_follows_a_finalized_restore(store: MetaStore) -> None:
    v1 = await store.upsert_checkpoint(checkpoint("v1"))
    v2 = await store.upsert_checkpoint(checkpoint("v2"))
    await store.upsert_checkpoint(checkpoint("v3"))
    restore = RestoreRecord(
        uid="r1",
        namespace="apps",
        name="back-to-v1",
        project_id="p-1",
        branch_name="production",
        mode="Finalize",
        phase="Restoring",
        checkpoint_id=v1.id,
        target_branch_id="br-prod-1",
    )
    await store.upsert_restore(restore)
    # A restore still in flight does not move the timeline.
    assert (await store.upsert_checkpoint(checkpoint("during"))).parent_checkpoint_id != v1.id
    done = await store.upsert_restore(
        RestoreRecord(
            **{
                **restore.__dict__,
                "phase": "Succeeded",
                "restored_branch_id": "br-prod-2",
                "replaced_branch_id": "br-prod-1",
                "operation_ids": ("op-2",),
            }
        )
    )
    assert done.completed_at is not None and done.restored_branch_id == "br-prod-2"
    after = await store.upsert_checkpoint(checkpoint("after", source_branch_id="br-prod-2"))
    assert after.parent_checkpoint_id == v1.id
    # A preview restore does not change what production descends from.
    await store.upsert_restore(
        RestoreRecord(
            uid="r2",
            namespace="apps",
            name="peek-v2",
            project_id="p-1",
            branch_name="production",
            mode="Preview",
            phase="Succeeded",
            checkpoint_id=v2.id,
        )
    )
    assert (await store.upsert_checkpoint(checkpoint("next"))).parent_checkpoint_id == after.id


async def test_restore_upsert_keeps_intent_and_merges_operations(store: MetaStore) -> None:
    v1 = await store.upsert_checkpoint(checkpoint("v1"))
    base = RestoreRecord(
        uid="r1",
        namespace="apps",
        name="r",
        project_id="p-1",
        branch_name="production",
        mode="Finalize",
        phase="Restoring",
        checkpoint_id=v1.id,
        target_branch_id="br-prod-1",
        operation_ids=("op-1",),
    )
    first = await store.upsert_restore(base)
    second = await store.upsert_restore(
        RestoreRecord(**{**base.__dict__, "target_branch_id": None, "operation_ids": ("op-2", "op-1")})
    )
    assert second.id == first.id
    assert second.target_branch_id == "br-prod-1"
    assert second.operation_ids == ["op-1", "op-2"]
    assert [r.uid for r in await store.list_restores("p-1")] == ["r1"]


async def test_mark_deleted_keeps_the_row(store: MetaStore) -> None:
    await store.upsert_checkpoint(checkpoint("u1"))
    deleted = await store.mark_checkpoint_deleted("u1")
    assert deleted is not None and deleted.deleted_at is not None
    again = await store.mark_checkpoint_deleted("u1")
    assert again is not None and again.deleted_at == deleted.deleted_at
    assert await store.mark_checkpoint_deleted("unknown") is None
    row = await store.get_checkpoint("u1")
    assert row is not None and row.snapshot_id == "snap-u1"


async def test_repr_hides_the_dsn(store: MetaStore) -> None:
    assert "password" not in repr(store) and "postgresql://" not in repr(store)


async def test_project_lock_is_exclusive_per_project(store: MetaStore) -> None:
    order: list[str] = []
    queued: list[str] = []

    async def note_queued() -> None:
        queued.append("second")

    async with store.locks.hold("p-1"):
        with pytest.raises(ProjectBusy):
            async with store.locks.hold("p-1", wait=0.1):
                pass
        # A different project proceeds while p-1 is held.
        async with store.locks.hold("p-2"):
            order.append("p-2")

        async def second() -> None:
            async with store.locks.hold("p-1", wait=5.0, on_queued=note_queued):
                order.append("second")

        task = asyncio.create_task(second())
        await asyncio.sleep(0.2)
        order.append("first done")
    await asyncio.wait_for(task, 5.0)
    assert order == ["p-2", "first done", "second"]
    assert queued == ["second"]


async def test_project_lock_is_released_when_the_body_fails(store: MetaStore) -> None:
    with pytest.raises(RuntimeError):
        async with store.locks.hold("p-1"):
            raise RuntimeError("boom")
    async with store.locks.hold("p-1", wait=0.1):
        pass


async def test_project_lock_holds_across_replicas(store: MetaStore, fresh_database: str) -> None:
    """Two operator replicas (two pools on one meta database) never hold the same project at once."""
    other = await MetaStore.open(fresh_database, max_size=4)
    try:
        queued: list[str] = []

        async def note_queued() -> None:
            queued.append("replica-2")

        async with store.locks.hold("p-1"):
            with pytest.raises(ProjectBusy):
                async with other.locks.hold("p-1", wait=0.2, on_queued=note_queued):
                    pass
            async with other.locks.hold("p-2", wait=0.2):
                pass
        async with other.locks.hold("p-1", wait=0.2):
            pass
        assert queued == ["replica-2"]
    finally:
        await other.close()


async def test_a_burst_of_flows_never_starves_the_pool_of_write_connections(store: MetaStore) -> None:
    """Flows holding locks write to the meta database while many more wait: with a pool of 4, 24 flows
    on 6 projects all finish (waiters must not pin connections the holders need for their writes)."""
    done: list[str] = []

    async def flow(project: str, n: int) -> None:
        async with store.locks.hold(project, wait=30.0):
            await store.upsert_checkpoint(
                CheckpointRecord(uid=f"{project}-{n}", namespace="ns", name=f"c{n}", project_id=project,
                                 branch_name="main", phase="Ready")
            )  # fmt: skip
            done.append(project)

    await asyncio.wait_for(
        asyncio.gather(*(flow(f"p-{p}", n) for p in range(6) for n in range(4))), timeout=60
    )
    assert sorted(done) == sorted(f"p-{p}" for p in range(6) for _ in range(4))
