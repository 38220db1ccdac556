"""The meta store: an async connection pool, migrations at open, and upserts keyed by Kubernetes uid."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from neon_checkpoints.meta import queries, schemas
from neon_checkpoints.meta.locks import ProjectLocks
from neon_checkpoints.meta.migrations import apply_migrations
from neon_checkpoints.meta.parents import CheckpointEvent, RestoreEvent, production_at
from neon_checkpoints.meta.records import (
    CheckpointRecord,
    CheckpointRow,
    RestoreRecord,
    RestoreRow,
    UnsettledCheckpoint,
    UnsettledRestore,
)
from neon_checkpoints.meta.workloads import WorkloadStore

logger = logging.getLogger(__name__)

# A checkpoint's lineage events, by Neon's times (meta/parents.py): the project + branch's checkpoints but
# intents with no snapshot yet (and the one being recorded, whatever it holds), its finalized restores and
# undos whose effect in Neon is known, and the database's clock (for a record that carries no snapshot time).
_LINEAGE_EVENTS = """
SELECT 'checkpoint' AS kind, id, uid, COALESCE(snapshot_created_at, created_at) AS at,
       NULL::bigint AS checkpoint_id, NULL::text AS undo_of
FROM checkpoints
WHERE project_id = %(project_id)s AND branch_name = %(branch_name)s
  AND (phase <> 'Pending' OR uid = %(uid)s)
UNION ALL
SELECT 'restore', id, uid, COALESCE(database_restored_at, completed_at), checkpoint_id, undo_of
FROM restores
WHERE project_id = %(project_id)s AND branch_name = %(branch_name)s AND mode IN ('Finalize', 'Undo')
  AND (database_restored_at IS NOT NULL OR (phase = 'Succeeded' AND completed_at IS NOT NULL))
UNION ALL
SELECT 'now', 0, '', clock_timestamp(), NULL, NULL
"""

_UPSERT_CHECKPOINT = """
INSERT INTO checkpoints AS c (
    uid, namespace, name, project_id, branch_name, source_branch_id, snapshot_id, snapshot_name, lsn,
    snapshot_created_at, expires_at, source, parent_checkpoint_id, phase, ready_at,
    credentials_secret_name, credentials_secret_key
) VALUES (
    %(uid)s, %(namespace)s, %(name)s, %(project_id)s, %(branch_name)s, %(source_branch_id)s,
    %(snapshot_id)s, %(snapshot_name)s, %(lsn)s, %(snapshot_created_at)s, %(expires_at)s, %(source)s,
    %(parent_checkpoint_id)s, %(phase)s, CASE WHEN %(phase)s = 'Ready' THEN clock_timestamp() END,
    %(credentials_secret_name)s, %(credentials_secret_key)s
)
ON CONFLICT (uid) DO UPDATE SET
    source_branch_id = COALESCE(EXCLUDED.source_branch_id, c.source_branch_id),
    snapshot_id = COALESCE(EXCLUDED.snapshot_id, c.snapshot_id),
    snapshot_name = COALESCE(EXCLUDED.snapshot_name, c.snapshot_name),
    lsn = COALESCE(EXCLUDED.lsn, c.lsn),
    snapshot_created_at = COALESCE(EXCLUDED.snapshot_created_at, c.snapshot_created_at),
    expires_at = COALESCE(EXCLUDED.expires_at, c.expires_at),
    source = EXCLUDED.source,
    parent_checkpoint_id = EXCLUDED.parent_checkpoint_id,
    phase = EXCLUDED.phase,
    ready_at = COALESCE(c.ready_at, EXCLUDED.ready_at),
    credentials_secret_name = EXCLUDED.credentials_secret_name,
    credentials_secret_key = EXCLUDED.credentials_secret_key,
    updated_at = clock_timestamp()
RETURNING c.*
"""

_UPSERT_RESTORE = """
INSERT INTO restores AS r (
    uid, namespace, name, project_id, branch_name, checkpoint_id, mode, target_branch_id,
    restored_branch_id, replaced_branch_id, operation_ids, phase, error, started_at, completed_at, undo_of
) VALUES (
    %(uid)s, %(namespace)s, %(name)s, %(project_id)s, %(branch_name)s, %(checkpoint_id)s, %(mode)s,
    %(target_branch_id)s, %(restored_branch_id)s, %(replaced_branch_id)s, %(operation_ids)s, %(phase)s,
    %(error)s, %(started_at)s,
    COALESCE(%(completed_at)s, CASE WHEN %(phase)s IN ('Succeeded', 'Failed') THEN clock_timestamp() END),
    %(undo_of)s
)
ON CONFLICT (uid) DO UPDATE SET
    checkpoint_id = COALESCE(EXCLUDED.checkpoint_id, r.checkpoint_id),
    target_branch_id = COALESCE(EXCLUDED.target_branch_id, r.target_branch_id),
    restored_branch_id = COALESCE(EXCLUDED.restored_branch_id, r.restored_branch_id),
    replaced_branch_id = COALESCE(EXCLUDED.replaced_branch_id, r.replaced_branch_id),
    operation_ids = ARRAY(SELECT DISTINCT unnest(r.operation_ids || EXCLUDED.operation_ids) ORDER BY 1),
    phase = EXCLUDED.phase,
    error = COALESCE(EXCLUDED.error, r.error),
    started_at = COALESCE(r.started_at, EXCLUDED.started_at),
    completed_at = COALESCE(r.completed_at, EXCLUDED.completed_at),
    updated_at = clock_timestamp()
RETURNING r.*
"""


_CHECKPOINT_INTENT = """
INSERT INTO checkpoints AS c (
    uid, namespace, name, project_id, branch_name, snapshot_name, source, phase,
    credentials_secret_name, credentials_secret_key
) VALUES (
    %(uid)s, %(namespace)s, %(name)s, %(project_id)s, %(branch_name)s, %(snapshot_name)s, %(source)s,
    'Pending', %(credentials_secret_name)s, %(credentials_secret_key)s
)
ON CONFLICT (uid) DO UPDATE SET branch_name = EXCLUDED.branch_name, updated_at = clock_timestamp()
WHERE c.snapshot_id IS NULL
"""

_UNSETTLED_RESTORES = """
SELECT r.uid, r.name, r.mode, r.branch_name, r.started_at, r.target_branch_id, r.operation_ids,
       c.snapshot_id
FROM restores r LEFT JOIN checkpoints c ON c.id = r.checkpoint_id
WHERE r.project_id = %s AND r.uid <> %s AND r.mode IN ('Finalize', 'Undo') AND r.started_at IS NOT NULL
  AND r.database_restored_at IS NULL AND r.phase NOT IN ('Succeeded', 'Failed')
ORDER BY r.started_at
"""

_UNSETTLED_CHECKPOINTS = """
SELECT uid, snapshot_name FROM checkpoints
WHERE project_id = %s AND uid <> %s AND phase = 'Pending' AND snapshot_id IS NULL
ORDER BY created_at
"""

_SUPERSEDED_BY = """
SELECT later.* FROM restores own JOIN restores later
  ON later.project_id = own.project_id AND later.branch_name = own.branch_name AND later.uid <> own.uid
WHERE own.uid = %s AND own.database_restored_at IS NOT NULL
  AND later.mode IN ('Finalize', 'Undo') AND later.database_restored_at > own.database_restored_at
ORDER BY later.database_restored_at DESC LIMIT 1
"""


def _parent(record: CheckpointRecord, rows: Sequence[tuple[Any, ...]]) -> int | None:
    """The recorded checkpoint's parent: production at its snapshot's time by Neon (meta/parents.py);
    without one (a record that carries none), at its row's first recording, or now."""
    checkpoints = [CheckpointEvent(r[1], r[2], r[3]) for r in rows if r[0] == "checkpoint"]
    restores = [RestoreEvent(r[2], r[3], r[4], r[5]) for r in rows if r[0] == "restore"]
    own = next((c.at for c in checkpoints if c.uid == record.uid), None)
    now = next(r[3] for r in rows if r[0] == "now")
    at = record.snapshot_created_at or own or now
    return production_at(at, checkpoints, restores, exclude_uid=record.uid)


class MetaStore:
    """Reads and writes of the timeline. Every write is one transaction and an upsert keyed by uid."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
        self._pool = pool
        self.locks = ProjectLocks(pool)
        self.workloads = WorkloadStore(pool)

    def __repr__(self) -> str:
        # The pool's conninfo may hold a password: never show it.
        return f"MetaStore(pool={self._pool.name!r})"

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 1, max_size: int = 10) -> MetaStore:
        """Open a pool on `dsn` and bring the schema up to date."""
        pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            open=False,
            name="neon-checkpoints-meta",
            kwargs={"autocommit": True},
        )
        await pool.open(wait=True, timeout=30.0)
        try:
            async with pool.connection() as conn:
                await apply_migrations(conn)
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    async def upsert_checkpoint(self, record: CheckpointRecord) -> CheckpointRow:
        credentials = record.credentials
        params = {
            **record.__dict__,
            "source": Jsonb(record.source),
            "credentials_secret_name": credentials.name if credentials else None,
            "credentials_secret_key": credentials.key if credentials else None,
        }
        # Pipelined: BEGIN, the lock and the lineage read travel together, then the upsert and COMMIT (this
        # write is on the way from "Neon is done" to Ready).
        async with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
            # Serialize writers per project + branch so two new checkpoints cannot pick the same parent.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))",
                (record.project_id, record.branch_name),
            )
            cur = await conn.execute(_LINEAGE_EVENTS, params)
            params["parent_checkpoint_id"] = _parent(record, await cur.fetchall())
            row_cur = conn.cursor(row_factory=class_row(CheckpointRow))
            await row_cur.execute(_UPSERT_CHECKPOINT, params)
            row = await row_cur.fetchone()
        assert row is not None  # RETURNING always yields the row
        return row

    async def record_checkpoint_intent(self, record: CheckpointRecord) -> None:
        """Before the snapshot is asked for (under the project lock): a row with no snapshot yet, so a
        flow that runs after a crash knows to settle it (settle/) before it mutates the project. A row
        that already names its snapshot is left as it is."""
        params = {
            **record.__dict__,
            "source": Jsonb(record.source),
            "credentials_secret_name": record.credentials.name if record.credentials else None,
            "credentials_secret_key": record.credentials.key if record.credentials else None,
        }
        async with self._pool.connection() as conn:
            await conn.execute(_CHECKPOINT_INTENT, params)

    async def unsettled(
        self, project_id: str, exclude_uid: str
    ) -> tuple[list[UnsettledRestore], list[UnsettledCheckpoint]]:
        """The project's in-flight work other than `exclude_uid`'s: finalized restores and undos with an
        intent and no recorded effect, checkpoints with an intent and no snapshot. One round trip; in the
        steady state both lists are empty and settling costs nothing more."""
        async with self._pool.connection() as conn, conn.pipeline():
            restores = conn.cursor(row_factory=class_row(UnsettledRestore))
            checkpoints = conn.cursor(row_factory=class_row(UnsettledCheckpoint))
            await restores.execute(_UNSETTLED_RESTORES, (project_id, exclude_uid))
            await checkpoints.execute(_UNSETTLED_CHECKPOINTS, (project_id, exclude_uid))
            return await restores.fetchall(), await checkpoints.fetchall()

    async def settle_snapshot(
        self, uid: str, snapshot_id: str, source_branch_id: str | None, created_at: dt.datetime
    ) -> None:
        """An interrupted checkpoint's snapshot exists in Neon: its row takes the snapshot and Neon's time
        (phase Creating until its own flow records it Ready)."""
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE checkpoints SET snapshot_id = %s, source_branch_id = %s, snapshot_created_at = %s,"
                " phase = 'Creating', updated_at = clock_timestamp() WHERE uid = %s AND snapshot_id IS NULL",
                (snapshot_id, source_branch_id, created_at, uid),
            )

    async def drop_checkpoint_intent(self, uid: str) -> None:
        """An interrupted checkpoint never got its snapshot: its intent goes (its flow, resumed, records a
        new one before it asks)."""
        async with self._pool.connection() as conn:
            await conn.execute("DELETE FROM checkpoints WHERE uid = %s AND snapshot_id IS NULL", (uid,))

    async def drop_restore_intent(self, uid: str) -> None:
        """An interrupted restore or undo never reached Neon: it is as if it had not begun (its flow,
        resumed, records a new intent against production as it is then)."""
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE restores SET started_at = NULL, target_branch_id = NULL, operation_ids = '{}',"
                " phase = 'Pending', updated_at = clock_timestamp()"
                " WHERE uid = %s AND database_restored_at IS NULL",
                (uid,),
            )

    async def superseded_by(self, uid: str) -> RestoreRow | None:
        """The finalized restore or undo on the same production branch that took effect in Neon after
        this one (None: this one is production's latest)."""
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(RestoreRow))
            await cur.execute(_SUPERSEDED_BY, (uid,))
            return await cur.fetchone()

    async def set_checkpoint_expiry(self, uid: str, expires_at: dt.datetime | None) -> CheckpointRow | None:
        """Record a changed snapshot expiry (None: it no longer expires); the upsert never clears it."""
        async with self._pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=class_row(CheckpointRow))
            await cur.execute(
                "UPDATE checkpoints SET expires_at = %s, updated_at = clock_timestamp()"
                " WHERE uid = %s RETURNING *",
                (expires_at, uid),
            )
            return await cur.fetchone()

    async def mark_checkpoint_deleted(self, uid: str) -> CheckpointRow | None:
        """Record that the Checkpoint resource is gone (its snapshot may be kept by `Retain`)."""
        async with self._pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=class_row(CheckpointRow))
            await cur.execute(
                "UPDATE checkpoints SET deleted_at = COALESCE(deleted_at, clock_timestamp()),"
                " updated_at = clock_timestamp() WHERE uid = %s RETURNING *",
                (uid,),
            )
            return await cur.fetchone()

    async def get_checkpoint_by_id(self, checkpoint_id: int) -> CheckpointRow | None:
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(CheckpointRow))
            await cur.execute("SELECT * FROM checkpoints WHERE id = %s", (checkpoint_id,))
            return await cur.fetchone()

    async def get_checkpoint(self, uid: str) -> CheckpointRow | None:
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(CheckpointRow))
            await cur.execute("SELECT * FROM checkpoints WHERE uid = %s", (uid,))
            return await cur.fetchone()

    async def list_checkpoints(self, project_id: str, branch_name: str | None = None) -> list[CheckpointRow]:
        async with self._pool.connection() as conn:
            return await queries.list_checkpoints(conn, project_id, branch_name)

    async def record_schema_capture(
        self, checkpoint_id: int, captured: dict[str, schemas.StoredSchema]
    ) -> int:
        """Store a checkpoint's captured schemas (identical ones once); returns how many were new."""
        async with self._pool.connection() as conn:
            return await schemas.record_capture(conn, checkpoint_id, captured)

    async def previous_schema_capture(
        self, checkpoint_id: int, project_id: str, branch_id: str, database: str
    ) -> schemas.PreviousCapture | None:
        async with self._pool.connection() as conn:
            return await schemas.previous_capture(conn, checkpoint_id, project_id, branch_id, database)

    async def upsert_restore(self, record: RestoreRecord) -> RestoreRow:
        params = {**record.__dict__, "operation_ids": list(record.operation_ids)}
        async with self._pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=class_row(RestoreRow))
            await cur.execute(_UPSERT_RESTORE, params)
            row = await cur.fetchone()
        assert row is not None
        return row

    async def mark_database_restored(
        self, uid: str, restored_branch_id: str, replaced_branch_id: str | None, at: dt.datetime
    ) -> None:
        """The database part of a restore is over, at `at` by Neon's record (its place in the timeline): a
        resumed flow goes on with the workloads and never asks Neon again."""
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE restores SET database_restored_at = COALESCE(database_restored_at, %s),"
                " restored_branch_id = %s, replaced_branch_id = COALESCE(%s, replaced_branch_id),"
                " updated_at = clock_timestamp() WHERE uid = %s",
                (at, restored_branch_id, replaced_branch_id, uid),
            )

    async def find_restore(self, namespace: str, name: str) -> RestoreRow | None:
        """The newest restore of that name (its resource may be gone)."""
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(RestoreRow))
            await cur.execute(
                "SELECT * FROM restores WHERE namespace = %s AND name = %s ORDER BY created_at DESC LIMIT 1",
                (namespace, name),
            )
            return await cur.fetchone()

    async def get_restore(self, uid: str) -> RestoreRow | None:
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(RestoreRow))
            await cur.execute("SELECT * FROM restores WHERE uid = %s", (uid,))
            return await cur.fetchone()

    async def list_restores(self, project_id: str, branch_name: str | None = None) -> list[RestoreRow]:
        async with self._pool.connection() as conn:
            return await queries.list_restores(conn, project_id, branch_name)

    async def restore_stamp(self, project_id: str) -> str:
        """What changes whenever any operator sharing this database starts or records a finalized restore
        on the project (each gives the restored branch a new id): keys the branch-id cache."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*), max(updated_at) FROM restores WHERE project_id = %s AND mode = 'Finalize'",
                (project_id,),
            )
            row = await cur.fetchone()
        return f"{row[0]}@{row[1]}" if row else "0@None"
