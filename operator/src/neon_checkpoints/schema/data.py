"""`diff --data`: open each checkpoint as a short-lived branch restored from its snapshot (never touching the
production branch), compare every table's row count and content hash, merge the row hashes of the tables that
differ, and delete the branches, also when interrupted (try/finally; SIGTERM becomes an exception; a branch
left by a killed diff carries a recognisable name and is deleted by the next diff of the project)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql

from neon_api import NeonClient, errors
from neon_checkpoints.meta.records import CheckpointRow
from neon_checkpoints.schema.diff import CapturedSchema
from neon_checkpoints.schema.rows import (
    RowHash,
    RowMerge,
    compared_columns,
    data_branch_name,
    is_leftover,
    merge_rows,
    row_key,
)
from neon_checkpoints.schema.structure import Table

_FETCH = 5000
_OPERATION_TIMEOUT = 600.0


@dataclass(frozen=True)
class RowExample:
    change: Literal["added", "removed", "changed"]
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class TableData:
    database: str
    table: str
    rows_a: int | None  # None: the table is not on that side
    rows_b: int | None
    same: bool | None  # equal content on the compared columns; None when on one side only
    columns: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    merge: RowMerge | None = None
    examples: tuple[RowExample, ...] = ()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_leftovers(client: NeonClient, project_id: str, *, now: dt.datetime | None = None) -> list[str]:
    """Delete the data branches of diffs that were killed; returns their names."""
    now = now or dt.datetime.now(dt.UTC)
    host = socket.gethostname()
    swept = []
    for branch in client.list_branches(project_id, search="ckpt-diff-"):
        age = (now - branch.created_at).total_seconds()
        pid_alive = [p for p in _pids_in(branch.name) if _pid_alive(p)]
        if is_leftover(branch.name, host=host, alive=pid_alive, age_seconds=age):
            client.delete_branch(project_id, branch.id)
            swept.append(branch.name)
    return swept


def _pids_in(name: str) -> list[int]:
    parts = name.rsplit("-", 3)
    return [int(parts[1])] if len(parts) == 4 and parts[1].isdigit() else []


class Terminated(Exception):
    """SIGTERM during a diff: unwinds through the finally that deletes the branches."""


@contextlib.contextmanager
def _terminate_as_exception() -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class _Opened:
    branch_id: str
    uris: dict[str, str]


def _open(
    client: NeonClient,
    row: CheckpointRow,
    side: Literal["a", "b"],
    target: str | None,
    created: dict[str, str | None],
) -> _Opened:
    """Restore the checkpoint's snapshot as a new branch (never finalized: production is not touched).
    `created` gets the branch's name before the request and its id after, for the cleanup."""
    if not row.snapshot_id:
        raise ValueError(f"checkpoint {row.name} (#{row.id}) has no snapshot")
    name = data_branch_name(socket.gethostname(), os.getpid(), side)
    created[name] = None
    restored = client.restore_snapshot(
        row.project_id, row.snapshot_id, target_branch_id=target, finalize=False, name=name
    )
    created[name] = restored.branch.id
    client.wait_for_operations(row.project_id, restored.operations, timeout=_OPERATION_TIMEOUT)
    uris = {
        d.name: client.connection_uri(
            row.project_id, database_name=d.name, role_name=d.owner_name, branch_id=restored.branch.id
        )
        for d in client.list_databases(row.project_id, restored.branch.id)
    }
    return _Opened(restored.branch.id, uris)


def _ident(table: Table) -> sql.Composable:
    return sql.Identifier(table.schema, table.name)


def _row(columns: tuple[str, ...]) -> sql.Composable:
    return sql.SQL("md5(ROW({})::text)").format(sql.SQL(", ").join(sql.Identifier("_r", c) for c in columns))


def _summary(conn: psycopg.Connection[Any], table: Table, columns: tuple[str, ...]) -> tuple[int, str]:
    """Row count and an order-independent content hash (the sum of the rows' md5 as two 64-bit halves)."""
    query = sql.SQL(
        "SELECT count(*), coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)::text"
        " || '/' || coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)::text"
        " FROM (SELECT {} AS h FROM {} AS _r) AS s"
    ).format(_row(columns), _ident(table))
    found = conn.execute(query).fetchone()
    assert found is not None
    return int(found[0]), str(found[1])


def _count(conn: psycopg.Connection[Any], table: Table) -> int:
    found = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_ident(table))).fetchone()
    return int(found[0]) if found else 0


def _hashes(
    conn: psycopg.Connection[Any], table: Table, key: tuple[str, ...], columns: tuple[str, ...]
) -> Iterator[RowHash]:
    query = sql.SQL('SELECT {} COLLATE "C" AS k, {} FROM {} AS _r ORDER BY 1').format(
        _row(key or columns), _row(columns), _ident(table)
    )
    with conn.transaction(), conn.cursor(name="ckpt_diff_rows") as cur:
        cur.itersize = _FETCH
        cur.execute(query)
        for k, content in cur:
            yield RowHash(k, content)


def _rows_by_key(
    conn: psycopg.Connection[Any],
    table: Table,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    wanted: list[str],
) -> dict[str, dict[str, Any]]:
    if not wanted:
        return {}
    query = sql.SQL("SELECT {}, to_jsonb(_r) FROM {} AS _r WHERE {} = ANY(%s)").format(
        _row(key or columns), _ident(table), _row(key or columns)
    )
    return {k: dict(v) for k, v in conn.execute(query, (wanted,))}


def _compare_table(
    database: str, ta: Table, tb: Table, ca: psycopg.Connection[Any], cb: psycopg.Connection[Any], rows: int
) -> TableData:
    columns = compared_columns(ta, tb)
    key = row_key(ta, tb, columns)
    (count_a, hash_a), (count_b, hash_b) = _summary(ca, ta, columns), _summary(cb, tb, columns)
    if hash_a == hash_b and count_a == count_b:
        return TableData(database, tb.qualified, count_a, count_b, True, columns, key)
    merge = merge_rows(
        _hashes(ca, ta, key, columns), _hashes(cb, tb, key, columns), keyed=bool(key), limit=rows
    )
    before = _rows_by_key(ca, ta, key, columns, [k for kind, k in merge.examples if kind != "added"])
    after = _rows_by_key(cb, tb, key, columns, [k for kind, k in merge.examples if kind != "removed"])
    examples = tuple(RowExample(kind, before.get(k), after.get(k)) for kind, k in merge.examples)
    return TableData(database, tb.qualified, count_a, count_b, False, columns, key, merge, examples)


def compare_data(
    client: NeonClient,
    a: CheckpointRow,
    b: CheckpointRow,
    schemas_a: dict[str, CapturedSchema],
    schemas_b: dict[str, CapturedSchema],
    *,
    rows: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[TableData]:
    """Every table of every captured database, A against B (both checkpoints of one project).

    `progress` hears each step before it starts; raising from it (say Terminated) stops the diff there, and
    the branches made so far are deleted all the same."""
    step = progress or (lambda _: None)
    project = b.project_id
    step("deleting branches left by diffs that were killed")
    sweep_leftovers(client, project)
    production = client.find_branch(project, b.branch_name)
    target = production.id if production else None
    created: dict[str, str | None] = {}
    out: list[TableData] = []
    try:
        with _terminate_as_exception():
            step(f"opening A ({a.name}) as a branch from its snapshot")
            opened_a = _open(client, a, "a", target, created)
            step(f"opening B ({b.name}) as a branch from its snapshot")
            opened_b = _open(client, b, "b", target, created)
            for database in sorted(set(schemas_a) | set(schemas_b)):
                step(f"comparing the tables of database {database}")
                out += _compare_database(
                    database,
                    schemas_a.get(database),
                    schemas_b.get(database),
                    opened_a.uris.get(database),
                    opened_b.uris.get(database),
                    rows,
                )
    finally:
        with contextlib.suppress(Exception):  # a progress that raises must not keep the branches
            step("deleting the diff's branches")
        _delete(client, project, created)
    return out


def _delete(client: NeonClient, project: str, created: dict[str, str | None]) -> None:
    for name, branch_id in created.items():
        if branch_id is None:  # interrupted before the answer: Neon may have made it all the same
            found = client.find_branch(project, name)
            branch_id = found.id if found else None
        if branch_id is not None:
            with contextlib.suppress(errors.NotFound):
                client.delete_branch(project, branch_id)


def _compare_database(
    database: str,
    sa: CapturedSchema | None,
    sb: CapturedSchema | None,
    uri_a: str | None,
    uri_b: str | None,
    rows: int,
) -> list[TableData]:
    tables_a = {t.qualified: t for t in sa.structure.tables} if sa else {}
    tables_b = {t.qualified: t for t in sb.structure.tables} if sb else {}
    out = []
    with contextlib.ExitStack() as stack:
        ca = stack.enter_context(psycopg.connect(uri_a, autocommit=True)) if uri_a and tables_a else None
        cb = stack.enter_context(psycopg.connect(uri_b, autocommit=True)) if uri_b and tables_b else None
        for name in sorted(set(tables_a) | set(tables_b)):
            ta, tb = tables_a.get(name), tables_b.get(name)
            if ta is not None and tb is not None and ca is not None and cb is not None:
                out.append(_compare_table(database, ta, tb, ca, cb, rows))
            else:
                out.append(
                    TableData(
                        database,
                        name,
                        _count(ca, ta) if ta is not None and ca is not None else None,
                        _count(cb, tb) if tb is not None and cb is not None else None,
                        None,
                    )
                )
    return out


def table_data_json(found: TableData) -> dict[str, Any]:
    merge = found.merge
    return {
        "database": found.database,
        "table": found.table,
        "rows_a": found.rows_a,
        "rows_b": found.rows_b,
        "same": found.same,
        "compared_columns": list(found.columns),
        "key": list(found.key),
        "added": merge.added if merge else (0 if found.same else None),
        "removed": merge.removed if merge else (0 if found.same else None),
        "changed": merge.changed if merge else (0 if found.same else None),
        "rows": [
            json.loads(json.dumps({"change": e.change, "before": e.before, "after": e.after}, default=str))
            for e in found.examples
        ],
    }
