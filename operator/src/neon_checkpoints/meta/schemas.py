"""The captured schemas of checkpoints: written by the operator, read by `show` and `diff` on any connection.

A schema is stored once per digest (schemas); a checkpoint's capture (schema_captures) names one per
database (checkpoint_schemas). Writing a capture again (a retry after a crash) changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from neon_checkpoints.meta.records import CheckpointRow


@dataclass(frozen=True)
class StoredSchema:
    """One database's schema as the capture wrote it."""

    digest: str
    sql: str
    structure: dict[str, Any]


@dataclass(frozen=True)
class SchemaRow:
    database_name: str
    digest: str
    sql: str
    structure: dict[str, Any]


async def record_capture(
    conn: AsyncConnection[Any], checkpoint_id: int, schemas: Mapping[str, StoredSchema]
) -> int:
    """Store the checkpoint's schemas (one transaction); returns how many schema texts were new."""
    new = 0
    async with conn.transaction():
        for schema in schemas.values():
            cur = await conn.execute(
                "INSERT INTO schemas (digest, sql, structure) VALUES (%s, %s, %s)"
                " ON CONFLICT (digest) DO NOTHING",
                (schema.digest, schema.sql, Jsonb(schema.structure)),
            )
            new += cur.rowcount
        await conn.execute(
            "INSERT INTO schema_captures (checkpoint_id) VALUES (%s) ON CONFLICT (checkpoint_id) DO NOTHING",
            (checkpoint_id,),
        )
        await conn.execute("DELETE FROM checkpoint_schemas WHERE checkpoint_id = %s", (checkpoint_id,))
        for database, schema in schemas.items():
            await conn.execute(
                "INSERT INTO checkpoint_schemas (checkpoint_id, database_name, schema_digest)"
                " VALUES (%s, %s, %s)",
                (checkpoint_id, database, schema.digest),
            )
    return new


@dataclass(frozen=True)
class PreviousCapture:
    """The newest other capture of a database on the same branch, with the point it was read at."""

    checkpoint_id: int
    lsn: str
    schema: StoredSchema


async def previous_capture(
    conn: AsyncConnection[Any], checkpoint_id: int, project_id: str, branch_id: str, database: str
) -> PreviousCapture | None:
    """What a new capture can compare with instead of reading the schema again: a checkpoint of the same
    branch, not deleted (its snapshot's point may be gone), whose capture named `database`, and recorded
    after every finalized restore on the project: a restore onto a branch that keeps its id (an undo) gives
    it a new history, where an older lsn no longer means the state that checkpoint captured."""
    cur = await conn.execute(
        "SELECT c.id, c.lsn, s.digest, s.sql, s.structure FROM checkpoints c"
        " JOIN checkpoint_schemas cs ON cs.checkpoint_id = c.id AND cs.database_name = %s"
        " JOIN schemas s ON s.digest = cs.schema_digest"
        " WHERE c.project_id = %s AND c.source_branch_id = %s AND c.id <> %s"
        " AND c.lsn IS NOT NULL AND c.deleted_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM restores r WHERE r.project_id = c.project_id"
        " AND r.mode = 'Finalize' AND r.created_at >= c.created_at)"
        " ORDER BY c.id DESC LIMIT 1",
        (database, project_id, branch_id, checkpoint_id),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    found_id, lsn, digest, sql, structure = row
    return PreviousCapture(found_id, lsn, StoredSchema(digest, sql, structure))


async def has_capture(conn: AsyncConnection[Any], checkpoint_id: int) -> bool:
    cur = await conn.execute("SELECT 1 FROM schema_captures WHERE checkpoint_id = %s", (checkpoint_id,))
    return await cur.fetchone() is not None


async def captured_schemas(conn: AsyncConnection[Any], checkpoint_id: int) -> list[SchemaRow] | None:
    """The checkpoint's schemas by database name; None when it has no capture (taken before capture
    existed, or its capture has not succeeded yet)."""
    if not await has_capture(conn, checkpoint_id):
        return None
    cur = conn.cursor(row_factory=class_row(SchemaRow))
    await cur.execute(
        "SELECT cs.database_name, s.digest, s.sql, s.structure FROM checkpoint_schemas cs"
        " JOIN schemas s ON s.digest = cs.schema_digest WHERE cs.checkpoint_id = %s"
        " ORDER BY cs.database_name",
        (checkpoint_id,),
    )
    return await cur.fetchall()


async def find_checkpoints(
    conn: AsyncConnection[Any], *, checkpoint_id: int | None = None, namespace: str = "", name: str = ""
) -> list[CheckpointRow]:
    """By meta id, or by namespace/name (newest first: a name may have been used again after a delete)."""
    cur = conn.cursor(row_factory=class_row(CheckpointRow))
    if checkpoint_id is not None:
        await cur.execute("SELECT * FROM checkpoints WHERE id = %s", (checkpoint_id,))
    else:
        await cur.execute(
            "SELECT * FROM checkpoints WHERE namespace = %s AND name = %s"
            " ORDER BY (deleted_at IS NULL) DESC, created_at DESC, id DESC",
            (namespace, name),
        )
    return await cur.fetchall()


async def has_schema_tables(conn: AsyncConnection[Any]) -> bool:
    cur = await conn.execute("SELECT to_regclass('schema_captures') IS NOT NULL")
    row = await cur.fetchone()
    return bool(row and row[0])
