"""A branch's database schema at a point (`pg_dump --schema-only` text, or its structured JSON form), and
the unified diff of two (neon-api.md §12)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from neon_api.calls.snapshots import Moment, rfc3339
from neon_api.protocol import Exchange, Request, compact, path, send


def _point(lsn: str | None, timestamp: Moment | None, prefix: str = "") -> dict[str, Any]:
    if lsn is not None and timestamp is not None:
        raise ValueError("give lsn or timestamp, not both")
    return compact(**{prefix + "lsn": lsn, prefix + "timestamp": rfc3339(timestamp) if timestamp else None})


def _schema(project_id: str, branch_id: str, params: dict[str, Any]) -> Exchange[Mapping[str, Any]]:
    where = path("projects", project_id, "branches", branch_id, "schema")
    response = yield from send(Request("GET", where, params))
    return cast(Mapping[str, Any], response.json())


def get_schema_sql(
    project_id: str,
    branch_id: str,
    db_name: str,
    *,
    lsn: str | None = None,
    timestamp: Moment | None = None,
) -> Exchange[str]:
    """GET .../schema?format=sql: the pg_dump --schema-only text at the point (neither: the branch head)."""
    params = {"db_name": db_name, "format": "sql", **_point(lsn, timestamp)}
    return str((yield from _schema(project_id, branch_id, params))["sql"])


def get_schema_json(
    project_id: str,
    branch_id: str,
    db_name: str,
    *,
    lsn: str | None = None,
    timestamp: Moment | None = None,
) -> Exchange[Mapping[str, Any]]:
    """GET .../schema?format=json: `{"tables": [{schema, name, columns, constraints, ...}]}` at the point."""
    params = {"db_name": db_name, "format": "json", **_point(lsn, timestamp)}
    return cast(Mapping[str, Any], (yield from _schema(project_id, branch_id, params))["json"])


def compare_schema(
    project_id: str,
    branch_id: str,
    db_name: str,
    *,
    base_branch_id: str | None = None,
    lsn: str | None = None,
    timestamp: Moment | None = None,
    base_lsn: str | None = None,
    base_timestamp: Moment | None = None,
) -> Exchange[str]:
    """GET .../compare_schema: the unified diff from the base (default: the parent) to this branch."""
    params = {
        "db_name": db_name,
        **compact(base_branch_id=base_branch_id),
        **_point(lsn, timestamp),
        **_point(base_lsn, base_timestamp, "base_"),
    }
    where = path("projects", project_id, "branches", branch_id, "compare_schema")
    response = yield from send(Request("GET", where, params))
    return str(cast(Mapping[str, Any], response.json())["diff"])
