"""How `show` and `diff` print (pure): text for people, JSON for programs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neon_checkpoints.core.tables import render_columns
from neon_checkpoints.schema.diff import CapturedSchema, DatabaseDiff, SchemaDiff
from neon_checkpoints.schema.structure import Column, structure_json


@dataclass(frozen=True)
class CheckpointLabel:
    """How a checkpoint is named in output: `v1 (#1, demo/v1)`."""

    id: int
    namespace: str
    name: str
    snapshot_id: str | None

    def __str__(self) -> str:
        return f"{self.name} (#{self.id}, {self.namespace}/{self.name})"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "namespace": self.namespace,
            "name": self.name,
            "snapshot_id": self.snapshot_id,
        }


def _nullable(column: Column) -> str:
    return "yes" if column.nullable else "no"


def render_show(label: CheckpointLabel, schemas: Mapping[str, CapturedSchema]) -> str:
    lines = [f"checkpoint {label}: snapshot {label.snapshot_id or '-'}"]
    if not schemas:
        lines.append("  (no database)")
    for database, schema in sorted(schemas.items()):
        lines.append(f"database {database}")
        rows = [
            (t.qualified, c.name, c.type, _nullable(c), c.default)
            for t in schema.structure.tables
            for c in t.columns
        ]
        if not rows:
            lines.append("  (no table)")
            continue
        lines.append(render_columns(("TABLE", "COLUMN", "TYPE", "NULLABLE", "DEFAULT"), rows, indent="  "))
        for table in schema.structure.tables:
            if table.indexes:
                listed = ", ".join(f"{i.name} ({', '.join(i.columns)})" for i in table.indexes)
                lines.append(f"  indexes of {table.qualified}: {listed}")
    return "\n".join(lines) + "\n"


def show_json(label: CheckpointLabel, schemas: Mapping[str, CapturedSchema]) -> str:
    body = {
        "checkpoint": label.to_json(),
        "databases": {
            name: {"structure": structure_json(s.structure), "sql": s.sql}
            for name, s in sorted(schemas.items())
        },
    }
    return json.dumps(body, indent=2) + "\n"


def database_lines(found: DatabaseDiff) -> list[str]:
    head = f"database {found.database}"
    if found.only_in == "a":
        head += " (only in A)"
    elif found.only_in == "b":
        head += " (only in B)"
    lines = [head]
    if found.empty:
        lines.append("  no schema change")
    lines += [f"  + table {name}" for name in found.tables_added]
    lines += [f"  - table {name}" for name in found.tables_removed]
    for table in found.tables_changed:
        lines.append(f"  ~ table {table.table}")
        lines += [f"      + column {c.name} {c.describe()}" for c in table.columns_added]
        lines += [f"      - column {c.name} {c.describe()}" for c in table.columns_removed]
        lines += [
            f"      ~ column {c.name}: {c.before.describe()} -> {c.after.describe()}"
            for c in table.columns_changed
        ]
        lines += [f"      + index {n}" for n in table.indexes_added]
        lines += [f"      - index {n}" for n in table.indexes_removed]
        lines += [f"      + constraint {n}" for n in table.constraints_added]
        lines += [f"      - constraint {n}" for n in table.constraints_removed]
    return lines


def render_diff(a: CheckpointLabel, b: CheckpointLabel, diff: SchemaDiff) -> str:
    lines = [f"schema diff from A = {a} to B = {b}"]
    for found in diff.databases:
        lines += database_lines(found)
    text = "\n".join(lines) + "\n"
    for found in diff.databases:
        text += found.sql_diff
    return text


def _column_json(column: Column) -> dict[str, Any]:
    return {
        "name": column.name,
        "type": column.type,
        "nullable": column.nullable,
        "default": column.default,
        "generated": column.generated,
        "identity": column.identity,
    }


def diff_json(a: CheckpointLabel, b: CheckpointLabel, diff: SchemaDiff) -> dict[str, Any]:
    return {
        "a": a.to_json(),
        "b": b.to_json(),
        "databases": [
            {
                "database": d.database,
                "only_in": d.only_in,
                "tables_added": list(d.tables_added),
                "tables_removed": list(d.tables_removed),
                "tables_changed": [
                    {
                        "table": t.table,
                        "columns_added": [_column_json(c) for c in t.columns_added],
                        "columns_removed": [_column_json(c) for c in t.columns_removed],
                        "columns_changed": [
                            {"name": c.name, "before": _column_json(c.before), "after": _column_json(c.after)}
                            for c in t.columns_changed
                        ],
                        "indexes_added": list(t.indexes_added),
                        "indexes_removed": list(t.indexes_removed),
                        "constraints_added": list(t.constraints_added),
                        "constraints_removed": list(t.constraints_removed),
                    }
                    for t in d.tables_changed
                ],
                "sql_diff": d.sql_diff,
            }
            for d in diff.databases
        ],
    }


def _short(row: Mapping[str, Any] | None, width: int = 100) -> str:
    text = json.dumps(row, default=str, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 3] + "..."


def render_data(tables: Sequence[Any]) -> str:
    """`diff --data`'s part: one row per table (TableData from data.py), then the changed rows shown."""
    lines = ["data diff (exact: read from short-lived branches of the two snapshots)"]
    rows = []
    for t in tables:
        if t.same is None:
            content = "only in A" if t.rows_b is None else "only in B"
        else:
            content = "same" if t.same else "differs"
        merge = t.merge
        rows.append(
            (
                f"{t.database}.{t.table}",
                "-" if t.rows_a is None else t.rows_a,
                "-" if t.rows_b is None else t.rows_b,
                content,
                merge.added if merge else "",
                merge.removed if merge else "",
                merge.changed if merge else "",
            )
        )
    if rows:
        header = ("TABLE", "ROWS A", "ROWS B", "CONTENT", "ADDED", "REMOVED", "CHANGED")
        lines.append(render_columns(header, rows, indent="  "))
    else:
        lines.append("  (no table)")
    for t in tables:
        for example in t.examples:
            if example.change == "added":
                lines.append(f"  {t.table}: + {_short(example.after)}")
            elif example.change == "removed":
                lines.append(f"  {t.table}: - {_short(example.before)}")
            else:
                lines.append(f"  {t.table}: ~ {_short(example.before)} -> {_short(example.after)}")
        if t.columns and t.same is False:
            lines.append(
                f"  {t.table}: compared on {', '.join(t.columns)}"
                + (f" by key {', '.join(t.key)}" if t.key else "")
            )
    return "\n".join(lines) + "\n"
