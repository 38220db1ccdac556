"""The seam between the page and the schema capture (issue 15): a checkpoint's schema and the diff of two.

The page calls only `checkpoint_schema` and `schema_diff`. Until schema capture is in this build, the meta
database has no schema tables and both answer "not captured" with the reason; wiring in the capture module
means replacing the two bodies below with calls to its readers (nothing else in ui/ knows where schemas live).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

# The meta table schema capture writes; its absence means "this build captures no schema".
SCHEMA_TABLE = "checkpoint_schemas"


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


async def _has_schema_tables(conn: AsyncConnection[Any]) -> bool:
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (SCHEMA_TABLE,))
    row = await cur.fetchone()
    return bool(row and row[0])


NOT_IN_BUILD = "not captured: this build records no schemas (schema capture is issue 15)"


async def checkpoint_schema(conn: AsyncConnection[Any], checkpoint_id: int) -> Schema:
    if not await _has_schema_tables(conn):
        return Schema(False, NOT_IN_BUILD)
    # Schema capture's reader goes here when it is merged.
    return Schema(False, "not captured: this page does not read the schema tables yet")


async def schema_diff(conn: AsyncConnection[Any], a_id: int, b_id: int) -> SchemaDiff:
    if not await _has_schema_tables(conn):
        return SchemaDiff(False, NOT_IN_BUILD)
    return SchemaDiff(False, "not captured: this page does not read the schema tables yet")
