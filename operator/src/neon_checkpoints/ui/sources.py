"""The seam between the page and the schema capture (issue 15): a checkpoint's schema and the diff of two.

The page calls only `checkpoint_schema`, `schema_diff` and `data_side`, which read what schema capture stored
in the meta database (meta/schemas.py) and diff it with schema/diff.py, as `neon-checkpoints show`/`diff` do;
a checkpoint without a capture answers "not captured" with the reason. Nothing else in ui/ knows where schemas
live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from neon_checkpoints.meta import schemas
from neon_checkpoints.meta.schemas import SchemaRow
from neon_checkpoints.schema.diff import CapturedSchema, diff_schemas
from neon_checkpoints.schema.render import database_lines
from neon_checkpoints.schema.structure import parse_structure
from neon_checkpoints.ui.datadiff import Side


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool


@dataclass(frozen=True)
class Table:
    database: str
    name: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Schema:
    captured: bool
    reason: str = ""  # why not, when not captured
    tables: tuple[Table, ...] = ()


@dataclass(frozen=True)
class SchemaDiff:
    captured: bool
    reason: str = ""
    changes: tuple[str, ...] = ()  # "table contacts: column tags added", ...
    sql: str = ""  # the unified diff of the schema SQL


def _captured(rows: list[SchemaRow]) -> dict[str, CapturedSchema]:
    return {r.database_name: CapturedSchema(r.sql, parse_structure(r.structure)) for r in rows}


async def _read(conn: AsyncConnection[Any], checkpoint_id: int) -> dict[str, CapturedSchema] | None:
    if not await schemas.has_schema_tables(conn):
        return None
    rows = await schemas.captured_schemas(conn, checkpoint_id)
    return None if rows is None else _captured(rows)


NOT_CAPTURED = "not captured: taken before schema capture existed, or its capture has not succeeded yet"


async def checkpoint_schema(conn: AsyncConnection[Any], checkpoint_id: int) -> Schema:
    captured = await _read(conn, checkpoint_id)
    if captured is None:
        return Schema(False, NOT_CAPTURED)
    tables = tuple(
        Table(database, t.qualified, tuple(Column(c.name, c.describe(), c.nullable) for c in t.columns))
        for database, schema in captured.items()
        for t in schema.structure.tables
    )
    return Schema(True, tables=tables)


async def schema_diff(conn: AsyncConnection[Any], a_id: int, b_id: int) -> SchemaDiff:
    a, b = await _read(conn, a_id), await _read(conn, b_id)
    if a is None or b is None:
        side = "A" if a is None else "B"
        return SchemaDiff(False, NOT_CAPTURED.replace("not captured:", f"not captured for {side}:"))
    found = diff_schemas(a, b)
    changes = tuple(line.strip() for d in found.databases for line in database_lines(d))
    return SchemaDiff(True, changes=changes, sql="".join(d.sql_diff for d in found.databases))


async def data_side(conn: AsyncConnection[Any], checkpoint_id: int) -> Side | str:
    """What a data diff reads of a checkpoint (its meta row, with the snapshot, and its captured schemas), or
    why it cannot be compared."""
    found = await schemas.find_checkpoints(conn, checkpoint_id=checkpoint_id)
    if not found:
        return "not recorded in the meta database yet"
    if not found[0].snapshot_id:
        return "it has no snapshot yet"
    captured = await _read(conn, checkpoint_id)
    return NOT_CAPTURED if captured is None else Side(found[0], captured)
