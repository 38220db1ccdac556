"""The workloads of the timeline: each recorded content once (by digest), which a checkpoint captured, and
per restore what it applies, what it replaced (for an undo) and how far it got (for a resume)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

_INSERT_REVISION = (
    "INSERT INTO workload_revisions (digest, kind, content) VALUES (%s, %s, %s)"
    " ON CONFLICT (digest) DO NOTHING"
)


@dataclass(frozen=True)
class Revision:
    """One recorded content of a workload, stored once per digest."""

    kind: str
    name: str
    digest: str
    content: dict[str, Any]


@dataclass(frozen=True)
class CheckpointWorkloadRow:
    """A checkpoint's workload as recorded: enough to apply it back."""

    position: int
    revision: Revision
    database_url_env: str | None


@dataclass(frozen=True)
class PlannedWorkload:
    """One workload a restore is about to roll back: its target and what it replaces (None: absent)."""

    kind: str
    name: str
    target_digest: str
    replaced: Revision | None


@dataclass(frozen=True)
class RestoreWorkloadRow:
    position: int
    kind: str
    name: str
    target_digest: str
    replaced_digest: str | None
    applied_generation: int | None
    applied: bool


class WorkloadStore:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
        self._pool = pool

    async def record_capture(
        self, checkpoint_uid: str, captured: Sequence[tuple[Revision, str | None]], *, replace: bool
    ) -> list[CheckpointWorkloadRow]:
        """Record a checkpoint's capture. `replace`: no snapshot exists yet, so this capture supersedes an
        earlier attempt's (the record is the one read just before the snapshot was asked for); else an
        earlier record is kept. Returns what is recorded."""
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('workloads'), hashtext(%s))", (checkpoint_uid,)
            )
            if replace:
                await conn.execute(
                    "DELETE FROM checkpoint_workloads WHERE checkpoint_uid = %s", (checkpoint_uid,)
                )
            cur = await conn.execute(
                "SELECT 1 FROM checkpoint_workloads WHERE checkpoint_uid = %s LIMIT 1", (checkpoint_uid,)
            )
            if await cur.fetchone() is None:
                for position, (item, env) in enumerate(captured):
                    await conn.execute(_INSERT_REVISION, (item.digest, item.kind, Jsonb(item.content)))
                    await conn.execute(
                        "INSERT INTO checkpoint_workloads (checkpoint_uid, position, kind, name, digest,"
                        " database_url_env) VALUES (%s, %s, %s, %s, %s, %s)",
                        (checkpoint_uid, position, item.kind, item.name, item.digest, env),
                    )
        return await self.of_checkpoint(checkpoint_uid)

    async def of_checkpoint(self, checkpoint_uid: str) -> list[CheckpointWorkloadRow]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT w.position, w.kind, w.name, w.digest, w.database_url_env, r.content"
                " FROM checkpoint_workloads w JOIN workload_revisions r USING (digest)"
                " WHERE w.checkpoint_uid = %s ORDER BY w.position",
                (checkpoint_uid,),
            )
            rows = await cur.fetchall()
        return [
            CheckpointWorkloadRow(position, Revision(kind, name, digest, content), env)
            for position, kind, name, digest, env, content in rows
        ]

    async def plan_restore(
        self, restore_uid: str, planned: Sequence[PlannedWorkload]
    ) -> list[RestoreWorkloadRow]:
        """Record what a restore will apply and what it replaces, before it changes anything; a resumed
        restore keeps the first record (what it replaced was read before its quiesce)."""
        async with self._pool.connection() as conn, conn.transaction():
            for position, item in enumerate(planned):
                replaced = item.replaced
                if replaced is not None:
                    await conn.execute(
                        _INSERT_REVISION, (replaced.digest, replaced.kind, Jsonb(replaced.content))
                    )
                await conn.execute(
                    "INSERT INTO restore_workloads (restore_uid, position, kind, name, target_digest,"
                    " replaced_digest) VALUES (%s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (restore_uid, kind, name) DO NOTHING",
                    (
                        restore_uid,
                        position,
                        item.kind,
                        item.name,
                        item.target_digest,
                        replaced.digest if replaced else None,
                    ),
                )
        return await self.progress(restore_uid)

    async def progress(self, restore_uid: str) -> list[RestoreWorkloadRow]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT position, kind, name, target_digest, replaced_digest, applied_generation,"
                " applied_at IS NOT NULL FROM restore_workloads WHERE restore_uid = %s ORDER BY position",
                (restore_uid,),
            )
            rows = await cur.fetchall()
        return [RestoreWorkloadRow(*row) for row in rows]

    async def mark_applied(self, restore_uid: str, kind: str, name: str, generation: int | None) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE restore_workloads SET applied_generation = %s,"
                " applied_at = COALESCE(applied_at, clock_timestamp())"
                " WHERE restore_uid = %s AND kind = %s AND name = %s",
                (generation, restore_uid, kind, name),
            )

    async def content(self, digest: str) -> dict[str, Any] | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT content FROM workload_revisions WHERE digest = %s", (digest,))
            row = await cur.fetchone()
        return None if row is None else cast(dict[str, Any], row[0])

    async def contents(self, digests: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Several recorded contents by digest, in one query (those not recorded are absent)."""
        if not digests:
            return {}
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT digest, content FROM workload_revisions WHERE digest = ANY(%s)", (list(digests),)
            )
            rows = await cur.fetchall()
        return {digest: cast(dict[str, Any], content) for digest, content in rows}
