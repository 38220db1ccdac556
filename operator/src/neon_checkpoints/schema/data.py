"""`diff --data`: open each checkpoint as a short-lived branch restored from its snapshot (never touching the
production branch), compare every table's row count and content hash, merge the row hashes of the tables that
differ, and delete the branches, also when interrupted (try/finally; SIGTERM becomes an exception; a branch
left by a killed diff carries a recognisable name and is deleted by the next diff of the project)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import itertools
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import psycopg
from psycopg import sql

from neon_api import NeonClient, errors
from neon_api.models import Operation
from neon_checkpoints.meta.records import CheckpointRow
from neon_checkpoints.schema.diff import CapturedSchema
from neon_checkpoints.schema.rows import (
    BUCKETS,
    REFINE_ABOVE,
    KeyRange,
    RowHash,
    RowMerge,
    clip,
    compared_columns,
    data_branch_name,
    integer_key,
    is_leftover,
    key_range,
    merge_rows,
    row_key,
)
from neon_checkpoints.schema.structure import Table

_FETCH = 5000
_T = TypeVar("_T")
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
    buckets_by: Literal["key range", "key hash"] | None = None  # None when on one side only
    buckets_differing: int = 0
    rows_read_again: int = 0  # both sides' rows of the (finest) buckets that differ, sent and merged
    seconds: tuple[tuple[str, float], ...] = ()  # where the time went: buckets, rows, examples


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


def _texts(columns: tuple[str, ...]) -> list[sql.Composable]:
    """Each compared column as text (t0, t1, ...), in "C" so that hashtextextended hashes its bytes."""
    return [
        sql.SQL('_r.{}::text COLLATE "C" AS {}').format(sql.Identifier(c), sql.Identifier(f"t{i}"))
        for i, c in enumerate(columns)
    ]


def _mix(positions: Iterable[int], half: int) -> sql.Composable:
    """The XOR of the texts at `positions` each hashed with a seed of its own (a NULL as its seed)."""
    parts = [
        sql.SQL("coalesce(hashtextextended({}, {}), {})").format(
            sql.Identifier(f"t{i}"), sql.Literal(2 * i + half), sql.Literal(2 * i + half)
        )
        for i in positions
    ]
    return sql.SQL(" # ").join(parts) if parts else sql.SQL("0::bigint")


# A row's content is the text of each compared column (equal rows are those whose every column's text is
# equal, as md5(ROW(...)::text) had it), each hashed by hashtextextended with a seed per column and half,
# XORed into two 64-bit halves: 128 bits, enough to tell changed rows from unchanged ones that nobody
# crafted to collide. The bucket scan costs 40% less than with both hashes of ROW(...)::text (no row value
# is formed and printed), and a third of md5's with its hex-to-bigint casts. A key's hash bucket is the
# first half's mix of its columns.
def _content(columns: tuple[str, ...]) -> sql.Composable:
    every = range(len(columns))
    return sql.SQL("{} AS h0, {} AS h1").format(_mix(every, 0), _mix(every, 1))


def _key_hash(plan: _Plan) -> sql.Composable:
    positions = [plan.columns.index(c) for c in plan.key] if plan.key else range(len(plan.columns))
    return sql.SQL("({}) & {}").format(_mix(positions, 0), sql.Literal(BUCKETS - 1))


def _select(*items: sql.Composable | list[sql.Composable]) -> sql.Composable:
    flat = [i for item in items for i in (item if isinstance(item, list) else [item])]
    return sql.SQL(", ").join(flat or [sql.SQL("NULL AS _none")])


# For the diff's own queries (SET LOCAL: their transaction only). No JIT: the planner, which takes every row
# of a bucket expression for a group of its own, thinks them costly enough to compile (some 300 ms), and
# they are only a few function calls. Room for the sorts of the rows read again. For the bucket scan, no
# sort: the planner would sort the whole table by bucket where BUCKETS groups fit a hash aggregate.
_SETTINGS = ("SET LOCAL jit = off", "SET LOCAL work_mem = '64MB'")
_BUCKET_SETTINGS = (*_SETTINGS, "SET LOCAL enable_sort = off")


@dataclass(frozen=True)
class _Plan:
    """How a table's rows are bucketed: by `ranges` of its integer key `column`, else by their key's hash."""

    key: tuple[str, ...]
    columns: tuple[str, ...]
    column: str | None = None
    ranges: KeyRange | None = None


def _key_bounds(conn: psycopg.Connection[Any], table: Table, column: str) -> tuple[int | None, int | None]:
    query = sql.SQL("SELECT min({c}), max({c}) FROM {t}").format(c=sql.Identifier(column), t=_ident(table))
    found = conn.execute(query).fetchone()
    return (found[0], found[1]) if found else (None, None)


def _in_spans(table: Table, column: str) -> sql.Composable:
    """The table's rows within the key ranges of parameters 1 and 2 (index range scans)."""
    return sql.SQL(
        "unnest(%s::bigint[], %s::bigint[]) AS r(lo, hi) JOIN {} AS _r ON _r.{c} BETWEEN r.lo AND r.hi"
    ).format(_ident(table), c=sql.Identifier(column))


def _params(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    return [s[0] for s in spans], [s[1] for s in spans]


def _buckets(
    conn: psycopg.Connection[Any], table: Table, plan: _Plan, spans: list[tuple[int, int]] | None = None
) -> dict[int, tuple[int, int, int]]:
    """Per bucket (of the whole table, or of its key `spans`): the row count and the sums of the rows' two
    content hashes (order-independent; a bigint sum is exact, numeric, and accumulates in 128 bits).
    OFFSET 0 keeps each text computed once."""
    texts = _texts(plan.columns)
    rows: sql.Composable = sql.SQL("{} AS _r").format(_ident(table))
    if plan.ranges is not None and plan.column is not None:
        bucket: sql.Composable = sql.SQL("(k - {}::bigint) / {}::bigint").format(
            sql.Literal(plan.ranges.lo), sql.Literal(plan.ranges.width)
        )
        source = _select(sql.SQL("_r.{} AS k").format(sql.Identifier(plan.column)), texts)
        if spans is not None:
            rows = _in_spans(table, plan.column)
    else:
        bucket, source = _key_hash(plan), _select(texts)
    query = sql.SQL(
        "SELECT b, count(*), sum(h0)::text, sum(h1)::text FROM (SELECT {} AS b, {}"
        " FROM (SELECT {} FROM {} OFFSET 0) AS s) AS s2 GROUP BY 1"
    ).format(bucket, _content(plan.columns), source, rows)
    with conn.transaction():
        for setting in _BUCKET_SETTINGS:
            conn.execute(setting)
        found = conn.execute(query, _params(spans) if spans is not None else None)
        return {int(b): (int(n), int(h0), int(h1)) for b, n, h0, h1 in found}


def _count(conn: psycopg.Connection[Any], table: Table) -> int:
    found = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_ident(table))).fetchone()
    return int(found[0]) if found else 0


def _hashes(
    conn: psycopg.Connection[Any], table: Table, plan: _Plan, buckets: list[int], spans: list[tuple[int, int]]
) -> Iterator[RowHash[Any]]:
    """The row hashes of hash `buckets` or key `spans`, sorted by key; the first batch is fetched at once
    (the sort). Key ranges are read by index range scans; hash buckets by a scan that hashes each row's key
    columns, the md5 of the key (its identity in the merge) only for the rows of those buckets."""
    texts, at = _texts(plan.columns), sql.SQL("_r.ctid::text AS at")
    if plan.ranges is not None and plan.column is not None:
        query = sql.SQL("SELECT k, {}, at FROM (SELECT {} FROM {} OFFSET 0) AS s ORDER BY k").format(
            _content(plan.columns),
            _select(sql.SQL("_r.{} AS k").format(sql.Identifier(plan.column)), texts, at),
            _in_spans(table, plan.column),
        )
        params: tuple[Any, ...] = _params(spans)
    else:
        positions = [plan.columns.index(c) for c in plan.key] if plan.key else range(len(plan.columns))
        key = sql.SQL(", ").join(sql.Identifier(f"t{i}") for i in positions)
        query = sql.SQL(
            'SELECT md5(ROW({})::text) COLLATE "C", {}, at FROM (SELECT {} FROM {} AS _r OFFSET 0) AS s'
            " WHERE {} = ANY(%s::bigint[]) ORDER BY 1"
        ).format(key, _content(plan.columns), _select(texts, at), _ident(table), _key_hash(plan))
        params = (buckets,)
    with conn.transaction():
        for setting in _SETTINGS:
            conn.execute(setting)
        with conn.cursor(name="ckpt_diff_rows") as cur:
            cur.execute(query, params)
            while batch := cur.fetchmany(_FETCH):
                for k, h0, h1, at_ in batch:
                    yield RowHash(k, (h0, h1), at_)


def _primed(rows: Iterator[RowHash[Any]]) -> Iterator[RowHash[Any]]:
    """`rows` with its first item already read (the query has run): lets two sides run their sorts at once."""
    first = next(rows, None)
    if first is None:
        return iter(())
    return itertools.chain((first,), rows)


def _rows_at(conn: psycopg.Connection[Any], table: Table, ctids: list[str]) -> dict[str, dict[str, Any]]:
    """The rows at `ctids` (tid scans: nothing else writes to the diff's branch, so they have not moved)."""
    if not ctids:
        return {}
    query = sql.SQL("SELECT _r.ctid::text, to_jsonb(_r) FROM {} AS _r WHERE _r.ctid = ANY(%s::tid[])").format(
        _ident(table)
    )
    return {at: dict(v) for at, v in conn.execute(query, (ctids,))}


def _plan(
    ta: Table, tb: Table, ca: psycopg.Connection[Any], cb: psycopg.Connection[Any], both: ThreadPoolExecutor
) -> _Plan:
    columns = compared_columns(ta, tb)
    key = row_key(ta, tb, columns)
    column = integer_key(ta, tb, key)
    if column is None:
        return _Plan(key, columns)
    side_a, side_b = both.submit(_key_bounds, ca, ta, column), both.submit(_key_bounds, cb, tb, column)
    return _Plan(key, columns, column, key_range((side_a.result(), side_b.result())))


def _both(
    both: ThreadPoolExecutor, call: Callable[..., _T], a: tuple[Any, ...], b: tuple[Any, ...]
) -> tuple[_T, _T]:
    side_a, side_b = both.submit(call, *a), both.submit(call, *b)
    return side_a.result(), side_b.result()


def _differing(a: dict[int, tuple[int, int, int]], b: dict[int, tuple[int, int, int]]) -> list[int]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def _rows_in(buckets: list[int], *sides: dict[int, tuple[int, int, int]]) -> int:
    return sum(side[n][0] for side in sides for n in buckets if n in side)


def _compare_table(
    database: str,
    sides: tuple[tuple[Table, psycopg.Connection[Any]], tuple[Table, psycopg.Connection[Any]]],
    rows: int,
    refine_above: int,
    both: ThreadPoolExecutor,
) -> TableData:
    (ta, ca), (tb, cb) = sides
    started = time.perf_counter()
    plan = _plan(ta, tb, ca, cb, both)
    buckets_a, buckets_b = _both(both, _buckets, (ca, ta, plan), (cb, tb, plan))
    count_a, count_b = sum(v[0] for v in buckets_a.values()), sum(v[0] for v in buckets_b.values())
    differing = _differing(buckets_a, buckets_b)
    seconds = [("buckets", time.perf_counter() - started)]
    by: Literal["key range", "key hash"] = "key hash" if plan.ranges is None else "key range"
    found = TableData(
        database, tb.qualified, count_a, count_b, not differing, plan.columns, plan.key, buckets_by=by
    )
    if not differing:
        return dataclasses.replace(found, seconds=tuple(seconds))
    started = time.perf_counter()
    top, spans, fine = len(differing), [], plan
    reread = _rows_in(differing, buckets_a, buckets_b)
    if plan.ranges is not None:
        spans = plan.ranges.spans(differing)
        while reread > refine_above and fine.ranges is not None and fine.ranges.width > 1:
            fine = dataclasses.replace(fine, ranges=fine.ranges.finer())
            buckets_a, buckets_b = _both(both, _buckets, (ca, ta, fine, spans), (cb, tb, fine, spans))
            differing = _differing(buckets_a, buckets_b)
            assert fine.ranges is not None
            spans = clip(fine.ranges.spans(differing), spans)
            reread = _rows_in(differing, buckets_a, buckets_b)
        seconds.append(("finer buckets", time.perf_counter() - started))
        started = time.perf_counter()
    rows_a = both.submit(_primed, _hashes(ca, ta, plan, differing, spans))
    rows_b = both.submit(_primed, _hashes(cb, tb, plan, differing, spans))
    merge = merge_rows(rows_a.result(), rows_b.result(), keyed=bool(plan.key), limit=rows)
    seconds.append(("rows", time.perf_counter() - started))
    started = time.perf_counter()
    before = _rows_at(ca, ta, [at for _, at, _ in merge.examples if at is not None])
    after = _rows_at(cb, tb, [at for _, _, at in merge.examples if at is not None])
    examples = tuple(
        RowExample(kind, before.get(at_a or ""), after.get(at_b or "")) for kind, at_a, at_b in merge.examples
    )
    seconds.append(("examples", time.perf_counter() - started))
    return dataclasses.replace(
        found,
        merge=merge,
        examples=examples,
        seconds=tuple(seconds),
        buckets_differing=top,
        rows_read_again=reread,
    )


def compare_data(
    client: NeonClient,
    a: CheckpointRow,
    b: CheckpointRow,
    schemas_a: dict[str, CapturedSchema],
    schemas_b: dict[str, CapturedSchema],
    *,
    rows: int = 0,
    progress: Callable[[str], None] | None = None,
    refine_above: int = REFINE_ABOVE,
) -> list[TableData]:
    """Every table of every captured database, A against B (both checkpoints of one project).

    Differing key-range buckets with more than `refine_above` rows are split finer before their rows are
    read. `progress` hears each step before it starts; raising from it (say Terminated) stops the diff
    there, and the branches made so far are deleted all the same."""
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
                    refine_above,
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
    refine_above: int = REFINE_ABOVE,
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
                out.append(_compare_table(database, ((ta, ca), (tb, cb)), rows, refine_above, both))
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
        "buckets": {
            "by": found.buckets_by,
            "differing": found.buckets_differing,
            "rows_read_again": found.rows_read_again,
        },
        "seconds": {phase: round(took, 3) for phase, took in found.seconds},
        "rows": [
            json.loads(json.dumps({"change": e.change, "before": e.before, "after": e.after}, default=str))
            for e in found.examples
        ],
    }
