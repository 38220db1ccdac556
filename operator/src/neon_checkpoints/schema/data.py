"""`diff --data`: open each checkpoint as a short-lived branch restored from its snapshot (never touching the
production branch), compare every table's row count and content hash, merge the row hashes of the tables that
differ, and delete the branches, also when interrupted (try/finally; SIGTERM becomes an exception; a branch
left by a killed diff carries a recognisable name and is deleted by the next diff of the project)."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import signal
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql

from neon_api import NeonClient, errors
from neon_api.models import Operation
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


def _restore(
    client: NeonClient,
    row: CheckpointRow,
    side: Literal["a", "b"],
    target: str | None,
    created: dict[str, str | None],
) -> tuple[str, list[Operation]]:
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
    return restored.branch.id, list(restored.operations)


def _connection_uris(client: NeonClient, project_id: str, branch_id: str) -> dict[str, str]:
    return {
        d.name: client.connection_uri(
            project_id, database_name=d.name, role_name=d.owner_name, branch_id=branch_id
        )
        for d in client.list_databases(project_id, branch_id)
    }


def _open_both(
    client: NeonClient, a: CheckpointRow, b: CheckpointRow, target: str | None, created: dict[str, str | None]
) -> tuple[_Opened, _Opened]:
    """Both restores asked for before waiting for either: Neon (and the emulator) make them side by side."""
    branch_a, ops_a = _restore(client, a, "a", target, created)
    branch_b, ops_b = _restore(client, b, "b", target, created)
    client.wait_for_operations(b.project_id, [*ops_a, *ops_b], timeout=_OPERATION_TIMEOUT)
    return (
        _Opened(branch_a, _connection_uris(client, a.project_id, branch_a)),
        _Opened(branch_b, _connection_uris(client, b.project_id, branch_b)),
    )


def _ident(table: Table) -> sql.Composable:
    return sql.Identifier(table.schema, table.name)


def _row(columns: tuple[str, ...]) -> sql.Composable:
    return sql.SQL("md5(ROW({})::text)").format(sql.SQL(", ").join(sql.Identifier("_r", c) for c in columns))


# A table's rows fall into 16**_BUCKET_DIGITS buckets by the first hex digits of their key's md5. One scan per
# side gives every bucket's count and hash (their sums are the table's); only the rows of buckets that differ
# are then sorted, sent and merged: a few changed rows of a big table no longer cost a sort of all of it.
_BUCKET_DIGITS = 4


def _buckets(
    conn: psycopg.Connection[Any], table: Table, key: tuple[str, ...], columns: tuple[str, ...]
) -> dict[str, tuple[int, int, int]]:
    """Per bucket: the row count and the sum of the rows' md5 as two 64-bit halves (order-independent; a
    bigint sum is exact, numeric, and accumulates in 128 bits)."""
    query = sql.SQL(
        "SELECT substr(k, 1, {}), count(*), sum(('x' || substr(h, 1, 16))::bit(64)::bigint)::text,"
        " sum(('x' || substr(h, 17, 16))::bit(64)::bigint)::text"
        " FROM (SELECT {} AS k, {} AS h FROM {} AS _r) AS s GROUP BY 1"
    ).format(sql.Literal(_BUCKET_DIGITS), _row(key or columns), _row(columns), _ident(table))
    return {bucket: (int(n), int(high), int(low)) for bucket, n, high, low in conn.execute(query)}


def _count(conn: psycopg.Connection[Any], table: Table) -> int:
    found = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_ident(table))).fetchone()
    return int(found[0]) if found else 0


def _hashes(
    conn: psycopg.Connection[Any],
    table: Table,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    buckets: list[str],
) -> Iterator[RowHash]:
    """The row hashes of `buckets`, sorted by key hash; the first batch is fetched at once (the sort)."""
    query = sql.SQL(
        'SELECT s.k COLLATE "C", s.h FROM (SELECT {} AS k, {} AS h FROM {} AS _r) AS s'
        " JOIN unnest(%s::text[]) AS b(bucket) ON substr(s.k, 1, {}) = b.bucket ORDER BY 1"
    ).format(_row(key or columns), _row(columns), _ident(table), sql.Literal(_BUCKET_DIGITS))
    with conn.transaction(), conn.cursor(name="ckpt_diff_rows") as cur:
        cur.execute(query, (buckets,))
        while batch := cur.fetchmany(_FETCH):
            for k, content in batch:
                yield RowHash(k, content)


def _primed(rows: Iterator[RowHash]) -> Iterator[RowHash]:
    """`rows` with its first item already read (the query has run): lets two sides run their sorts at once."""
    first = next(rows, None)
    if first is None:
        return iter(())
    return itertools.chain((first,), rows)


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
    database: str,
    ta: Table,
    tb: Table,
    ca: psycopg.Connection[Any],
    cb: psycopg.Connection[Any],
    rows: int,
    both: ThreadPoolExecutor,
) -> TableData:
    columns = compared_columns(ta, tb)
    key = row_key(ta, tb, columns)
    side_a, side_b = both.submit(_buckets, ca, ta, key, columns), both.submit(_buckets, cb, tb, key, columns)
    buckets_a, buckets_b = side_a.result(), side_b.result()
    count_a, count_b = sum(v[0] for v in buckets_a.values()), sum(v[0] for v in buckets_b.values())
    differing = sorted(k for k in set(buckets_a) | set(buckets_b) if buckets_a.get(k) != buckets_b.get(k))
    if not differing:
        return TableData(database, tb.qualified, count_a, count_b, True, columns, key)
    rows_a = both.submit(_primed, _hashes(ca, ta, key, columns, differing))
    rows_b = both.submit(_primed, _hashes(cb, tb, key, columns, differing))
    merge = merge_rows(rows_a.result(), rows_b.result(), keyed=bool(key), limit=rows)
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
            step(f"opening A ({a.name}) and B ({b.name}) as branches from their snapshots")
            opened_a, opened_b = _open_both(client, a, b, target, created)
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
        both = stack.enter_context(ThreadPoolExecutor(2, thread_name_prefix="diff-side"))
        ca = stack.enter_context(psycopg.connect(uri_a, autocommit=True)) if uri_a and tables_a else None
        cb = stack.enter_context(psycopg.connect(uri_b, autocommit=True)) if uri_b and tables_b else None
        for name in sorted(set(tables_a) | set(tables_b)):
            ta, tb = tables_a.get(name), tables_b.get(name)
            if ta is not None and tb is not None and ca is not None and cb is not None:
                out.append(_compare_table(database, ta, tb, ca, cb, rows, both))
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
