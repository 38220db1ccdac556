"""A database schema's structured form (pure): tables with columns, constraints and indexes, as Neon's
`schema?format=json` gives them (the emulator adds each column's default and each table's indexes), parsed
once into frozen values and written back as canonical JSON (what the meta database stores and digests)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    default: str | None = None
    generated: bool = False
    identity: str | None = None

    def describe(self) -> str:
        """`text NOT NULL DEFAULT 'x'`: how `show` and `diff` print a column."""
        parts = [self.type]
        if not self.nullable:
            parts.append("NOT NULL")
        if self.identity:
            parts.append(f"IDENTITY {self.identity.upper().replace('_', ' ')}")
        if self.default is not None:
            parts.append(("GENERATED " if self.generated else "DEFAULT ") + self.default)
        return " ".join(parts)


@dataclass(frozen=True)
class Constraint:
    name: str
    type: str  # primary_key | unique | foreign_key | check
    columns: tuple[str, ...]
    definition: str | None = None


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool = False
    definition: str | None = None


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]
    constraints: tuple[Constraint, ...] = ()
    indexes: tuple[Index, ...] = ()

    @property
    def qualified(self) -> str:
        return self.name if self.schema == "public" else f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Structure:
    tables: tuple[Table, ...]

    def table(self, qualified: str) -> Table | None:
        return next((t for t in self.tables if t.qualified == qualified), None)


def _str(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str):
        raise ValueError(f"schema json: {key!r} must be a string, got {value!r}")
    return value


def _names(raw: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in raw or ())


def parse_structure(raw: Mapping[str, Any]) -> Structure:
    """Neon's `{"tables": [...]}`; unknown fields are ignored, missing optional ones take their defaults."""
    tables = []
    for item in raw.get("tables") or ():
        columns = tuple(
            Column(
                name=_str(c, "name"),
                type=_str(c, "type"),
                nullable=bool(c.get("nullable", True)),
                default=c.get("default"),
                generated=bool(c.get("generated", False)),
                identity=c.get("identity"),
            )
            for c in item.get("columns") or ()
        )
        constraints = tuple(
            Constraint(
                _str(c, "name") if c.get("name") else "",
                _str(c, "type"),
                _names(c.get("columns")),
                c.get("definition"),
            )
            for c in item.get("constraints") or ()
        )
        indexes = tuple(
            Index(
                _str(i, "name"), _names(i.get("columns")), bool(i.get("unique", False)), i.get("definition")
            )
            for i in item.get("indexes") or ()
        )
        tables.append(Table(_str(item, "schema"), _str(item, "name"), columns, constraints, indexes))
    return Structure(tuple(sorted(tables, key=lambda t: (t.schema, t.name))))


def structure_json(structure: Structure) -> dict[str, Any]:
    def table(t: Table) -> dict[str, Any]:
        return {
            "schema": t.schema,
            "name": t.name,
            "columns": [
                {
                    "name": c.name,
                    "type": c.type,
                    "nullable": c.nullable,
                    "default": c.default,
                    "generated": c.generated,
                    "identity": c.identity,
                }
                for c in t.columns
            ],
            "constraints": [
                {"name": c.name, "type": c.type, "columns": list(c.columns), "definition": c.definition}
                for c in t.constraints
            ],
            "indexes": [
                {"name": i.name, "columns": list(i.columns), "unique": i.unique, "definition": i.definition}
                for i in t.indexes
            ],
        }

    return {"tables": [table(t) for t in structure.tables]}


def normalized_sql(sql: str) -> str:
    """pg_dump's text without its `\\restrict KEY` / `\\unrestrict KEY` lines: their key is random per dump,
    so two dumps of one schema differ only there."""
    kept = [line for line in sql.splitlines() if not line.startswith(("\\restrict ", "\\unrestrict "))]
    return "\n".join(kept) + ("\n" if kept else "")


def schema_digest(sql: str, structure: Structure) -> str:
    """The content address of a schema: identical schemas are stored once."""
    canonical = json.dumps(structure_json(structure), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((normalized_sql(sql) + "\0" + canonical).encode()).hexdigest()


def sql_lines(sql: str) -> Sequence[str]:
    return normalized_sql(sql).splitlines()
