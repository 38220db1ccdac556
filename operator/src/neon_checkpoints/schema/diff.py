"""The schema diff of two checkpoints (pure): per database, the tables added and removed, and for each table
in both the columns added, removed and changed and the indexes and constraints added and removed; then the
unified diff of the two pg_dump texts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from neon_checkpoints.schema.structure import Column, Structure, Table, sql_lines
from neon_checkpoints.schema.unified import unified_diff


@dataclass(frozen=True)
class CapturedSchema:
    """One database's schema as captured: its dump text and structured form."""

    sql: str
    structure: Structure


@dataclass(frozen=True)
class ColumnChange:
    name: str
    before: Column
    after: Column


@dataclass(frozen=True)
class TableDiff:
    table: str
    columns_added: tuple[Column, ...] = ()
    columns_removed: tuple[Column, ...] = ()
    columns_changed: tuple[ColumnChange, ...] = ()
    indexes_added: tuple[str, ...] = ()
    indexes_removed: tuple[str, ...] = ()
    constraints_added: tuple[str, ...] = ()
    constraints_removed: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.columns_added,
                self.columns_removed,
                self.columns_changed,
                self.indexes_added,
                self.indexes_removed,
                self.constraints_added,
                self.constraints_removed,
            )
        )


@dataclass(frozen=True)
class DatabaseDiff:
    database: str
    only_in: str | None = None  # "a" or "b": the database exists on one side only
    tables_added: tuple[str, ...] = ()
    tables_removed: tuple[str, ...] = ()
    tables_changed: tuple[TableDiff, ...] = ()
    sql_diff: str = ""

    @property
    def empty(self) -> bool:
        return self.only_in is None and not (self.tables_added or self.tables_removed or self.tables_changed)


@dataclass(frozen=True)
class SchemaDiff:
    databases: tuple[DatabaseDiff, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return all(d.empty for d in self.databases)


def _by_name(items: tuple[Any, ...]) -> dict[str, Any]:
    return {item.name: item for item in items}


def diff_table(before: Table, after: Table) -> TableDiff:
    old, new = _by_name(before.columns), _by_name(after.columns)
    old_idx, new_idx = _by_name(before.indexes), _by_name(after.indexes)
    old_con, new_con = _by_name(before.constraints), _by_name(after.constraints)
    return TableDiff(
        table=after.qualified,
        columns_added=tuple(c for c in after.columns if c.name not in old),
        columns_removed=tuple(c for c in before.columns if c.name not in new),
        columns_changed=tuple(
            ColumnChange(c.name, old[c.name], c) for c in after.columns if c.name in old and old[c.name] != c
        ),
        indexes_added=tuple(n for n in new_idx if n not in old_idx or old_idx[n] != new_idx[n]),
        indexes_removed=tuple(n for n in old_idx if n not in new_idx or old_idx[n] != new_idx[n]),
        constraints_added=tuple(n for n in new_con if n not in old_con or old_con[n] != new_con[n]),
        constraints_removed=tuple(n for n in old_con if n not in new_con or old_con[n] != new_con[n]),
    )


def unified_sql_diff(database: str, before: str, after: str) -> str:
    text = "\n".join(unified_diff(sql_lines(before), sql_lines(after), f"a/{database}", f"b/{database}"))
    return text + "\n" if text else ""


def diff_database(database: str, before: CapturedSchema, after: CapturedSchema) -> DatabaseDiff:
    old = {t.qualified: t for t in before.structure.tables}
    new = {t.qualified: t for t in after.structure.tables}
    changed = tuple(d for name in new if name in old and not (d := diff_table(old[name], new[name])).empty)
    return DatabaseDiff(
        database=database,
        tables_added=tuple(n for n in new if n not in old),
        tables_removed=tuple(n for n in old if n not in new),
        tables_changed=changed,
        sql_diff=unified_sql_diff(database, before.sql, after.sql),
    )


def diff_schemas(a: Mapping[str, CapturedSchema], b: Mapping[str, CapturedSchema]) -> SchemaDiff:
    """From checkpoint A (`a`, the base) to checkpoint B, database by database (sorted by name)."""
    out = []
    empty = CapturedSchema("", Structure(()))
    for database in sorted(set(a) | set(b)):
        before, after = a.get(database), b.get(database)
        found = diff_database(database, before or empty, after or empty)
        if before is None or after is None:
            found = DatabaseDiff(
                database,
                only_in="b" if before is None else "a",
                tables_added=found.tables_added,
                tables_removed=found.tables_removed,
                sql_diff=found.sql_diff,
            )
        out.append(found)
    return SchemaDiff(tuple(out))
