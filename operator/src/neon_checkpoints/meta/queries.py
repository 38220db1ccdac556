"""Reads of the timeline on any connection: the operator's pool, or the read-only connection of
`neon-checkpoints timeline` (which never migrates: the operator owns the schema)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from neon_checkpoints.meta.records import CheckpointRow, RestoreRow


async def list_checkpoints(
    conn: AsyncConnection[Any], project_id: str, branch_name: str | None = None
) -> list[CheckpointRow]:
    """A project's checkpoints (optionally of one branch), oldest first by Neon's snapshot times; a
    checkpoint's intent with no snapshot yet is not one."""
    cur = conn.cursor(row_factory=class_row(CheckpointRow))
    await cur.execute(
        "SELECT c.*, (SELECT json_agg(json_build_object('kind', w.kind, 'name', w.name,"
        " 'revision', left(w.digest, 12)) ORDER BY w.position) FROM checkpoint_workloads w"
        " WHERE w.checkpoint_uid = c.uid) AS workloads"
        " FROM checkpoints c WHERE project_id = %s AND (%s::text IS NULL OR branch_name = %s)"
        " AND phase <> 'Pending' ORDER BY COALESCE(snapshot_created_at, created_at), id",
        (project_id, branch_name, branch_name),
    )
    return await cur.fetchall()


async def list_restores(
    conn: AsyncConnection[Any], project_id: str, branch_name: str | None = None
) -> list[RestoreRow]:
    """A project's restores (optionally onto one branch), oldest first."""
    cur = conn.cursor(row_factory=class_row(RestoreRow))
    await cur.execute(
        "SELECT * FROM restores WHERE project_id = %s AND (%s::text IS NULL OR branch_name = %s)"
        " ORDER BY created_at, id",
        (project_id, branch_name, branch_name),
    )
    return await cur.fetchall()


async def latest_checkpoints(conn: AsyncConnection[Any]) -> list[CheckpointRow]:
    """Each project's newest checkpoint (deleted ones too: the timeline keeps them)."""
    cur = conn.cursor(row_factory=class_row(CheckpointRow))
    await cur.execute(
        "SELECT DISTINCT ON (project_id) * FROM checkpoints WHERE phase <> 'Pending'"
        " ORDER BY project_id, COALESCE(snapshot_created_at, created_at) DESC, id DESC"
    )
    return await cur.fetchall()


async def latest_restores(conn: AsyncConnection[Any]) -> list[RestoreRow]:
    """Each project's newest restore: by when it took effect in Neon once it did (what production is)."""
    cur = conn.cursor(row_factory=class_row(RestoreRow))
    await cur.execute(
        "SELECT DISTINCT ON (project_id) * FROM restores"
        " ORDER BY project_id, COALESCE(database_restored_at, created_at) DESC, id DESC"
    )
    return await cur.fetchall()


async def has_timeline(conn: AsyncConnection[Any]) -> bool:
    """Whether the operator has created its tables in this database."""
    cur = await conn.execute("SELECT to_regclass('checkpoints') IS NOT NULL")
    row = await cur.fetchone()
    return bool(row and row[0])


async def list_project_ids(conn: AsyncConnection[Any], namespace: str) -> list[str]:
    """The Neon projects that have checkpoints recorded from this namespace."""
    cur = await conn.execute(
        "SELECT DISTINCT project_id FROM checkpoints WHERE namespace = %s ORDER BY project_id", (namespace,)
    )
    return [str(row[0]) for row in await cur.fetchall()]
