"""`neon-checkpoints diff` on the emulator: the schema diff of two checkpoints of a 200-table schema (meta
database only: p50/p95 of the whole command, and of the read + diff + render inside it), and `diff --data`
of a large table next to `pg_dump -Fc` of both sides (each side a branch restored from its snapshot).

The data size is BENCH_SCHEMA_DATA_MB (default 1024 MB, the issue's 1 GB; quick 20 MB). The rows are made
server-side in one INSERT ... SELECT from generate_series, the primary key built afterwards (one sort, not
an index insert per row): on this shared 2-core machine the full run holds the heavy lock for several
minutes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import psycopg

from devenv.emulator import start_emulator
from neon_api import AsyncNeonClient, NeonClient
from neon_checkpoints.cli.main import main as cli_main
from neon_checkpoints.meta.records import CheckpointRecord
from neon_checkpoints.meta.store import MetaStore
from neon_checkpoints.schema.capture import branch_databases, read_schemas
from neon_checkpoints.schema.plan import capture_point
from neon_emulator.storage.server_user import pg_bin_dir
from tests.bench import BenchOptions, format_table

TABLES = 200
RUNS = 20
# pg_database_size per row of `events` with its primary key (848 MB for 6.3 M rows at 1024 / 170 per MB)
ROW_BYTES = 140
CLI = str(Path(sys.executable).parent / "neon-checkpoints")


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _schema_sql(tables: int) -> list[str]:
    out = []
    for i in range(tables):
        out.append(
            f"CREATE TABLE t{i:03d} (id bigserial PRIMARY KEY, name text NOT NULL, email text UNIQUE,"
            f" score int DEFAULT 0, created timestamptz DEFAULT now(), tags text[], body jsonb,"
            f" parent bigint REFERENCES t{max(i - 1, 0):03d} (id))"
        )
        out.append(f"CREATE INDEX t{i:03d}_name_idx ON t{i:03d} (name)")
    return out


def _change_sql() -> list[str]:
    out = [f"ALTER TABLE t{i:03d} ADD COLUMN role text DEFAULT 'member'" for i in range(0, 200, 10)]
    out += [f"ALTER TABLE t{i:03d} ALTER COLUMN score TYPE bigint" for i in range(5, 200, 20)]
    out += [f"CREATE INDEX t{i:03d}_email_idx ON t{i:03d} (email, name)" for i in range(3, 200, 25)]
    out += ["DROP TABLE t199", "CREATE TABLE extra (id int PRIMARY KEY)"]
    return out


class Bench:
    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.neon = NeonClient(url, key)

    def project(self, name: str) -> tuple[str, str, str]:
        made = self.neon.create_project(name=name, branch_name="production")
        self.neon.wait_for_operations(made.project.id, made.operations, timeout=120)
        return made.project.id, made.branch.id, made.connection_uris[0]

    async def checkpoint(self, store: MetaStore, project: str, branch: str, name: str) -> None:
        made = self.neon.create_snapshot(project, branch, name=name)
        self.neon.wait_for_operations(project, made.operations, timeout=600)
        snap = self.neon.find_snapshot(project, name)
        assert snap is not None
        row = await store.upsert_checkpoint(
            CheckpointRecord(uid=f"{project}-{name}", namespace="bench", name=name, project_id=project,
                             branch_name="production", phase="Ready", source_branch_id=branch,
                             snapshot_id=snap.id, snapshot_name=snap.name, lsn=snap.lsn)
        )  # fmt: skip
        point = capture_point(snap.source_branch_id, snap.lsn, snap.raw.get("timestamp"))
        assert point is not None
        async with AsyncNeonClient(self.url, self.key) as client:
            databases = await branch_databases(client, project, point.branch_id, ())
            captured = await read_schemas(client, project, point, databases)
        await store.record_schema_capture(row.id, captured)


def _run_sql(uri: str, statements: list[str]) -> None:
    with psycopg.connect(uri, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def _time_cli(args: list[str], env: dict[str, str]) -> float:
    return _run_cli(args, env)[0]


def _run_cli(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([CLI, *args], env=env, check=True, capture_output=True, text=True, timeout=3600)
    return time.perf_counter() - started, done.stdout


def _time_in_process(args: list[str]) -> float:
    started = time.perf_counter()
    with redirect_stdout(io.StringIO()):
        assert cli_main(args) == 0
    return time.perf_counter() - started


def _phases(total: float, tables: list[dict[str, Any]]) -> str:
    """Where diff --data's time went: per table phase (both sides at once), the rest is the process, the
    meta reads and the branches (restores from the snapshots, connections, deletes)."""
    seconds = {t["table"]: t.get("seconds") or {} for t in tables}
    events = next((t for t in tables if t["table"] == "events"), {})
    spent = sum(sum(phases.values()) for phases in seconds.values())
    others = spent - sum(seconds.get("events", {}).values())
    parts = ", ".join(f"{phase} {took:.2f} s" for phase, took in seconds.get("events", {}).items())
    buckets = events.get("buckets") or {}
    return (
        f"phases of diff --data: events {parts} ({buckets.get('differing', 0):,} of its buckets by"
        f" {buckets.get('by')} differ; {events.get('changed')} changed, {events.get('removed')} removed,"
        f" {events.get('added')} added); other tables {others:.1f} s;"
        f" the rest (process, branches made and deleted) {total - spent:.1f} s"
    )


def _pg_dump(uri: str) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-dump-") as tmp:
        started = time.perf_counter()
        done = subprocess.run(
            [str(pg_bin_dir() / "pg_dump"), "-Fc", "-f", str(Path(tmp) / "dump"), "--dbname", uri],
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"pg_dump failed: {done.stderr.strip()}")
    return elapsed


async def _bench(bench: Bench, options: BenchOptions) -> None:
    meta_project, _, meta_uri = bench.project("bench-meta")
    store = await MetaStore.open(meta_uri)
    env = {**os.environ, "META_DATABASE_URL": meta_uri, "NEON_API_URL": bench.url, "NEON_API_KEY": bench.key}
    try:
        project, branch, uri = bench.project("bench-schema")
        _run_sql(uri, _schema_sql(TABLES))
        await bench.checkpoint(store, project, branch, "wide-a")
        _run_sql(uri, _change_sql())
        await bench.checkpoint(store, project, branch, "wide-b")
        args = ["diff", "bench/wide-a", "bench/wide-b", "--meta-database-url", meta_uri]
        runs = RUNS // 4 if options.quick else RUNS
        whole = [_time_cli(args, env) for _ in range(runs)]
        inside = [await asyncio.to_thread(_time_in_process, args) for _ in range(runs)]
        print(f"schema diff of two checkpoints of a {TABLES}-table schema ({runs} runs each, meta DB only):")
        print(format_table(
            ["measure", "what", "p50 ms", "p95 ms"],
            [["command", "neon-checkpoints diff (new process)", f"{_p(whole, 0.5) * 1000:.0f}",
              f"{_p(whole, 0.95) * 1000:.0f}"],
             ["in process", "read + diff + render", f"{_p(inside, 0.5) * 1000:.0f}",
              f"{_p(inside, 0.95) * 1000:.0f}"]],
        ))  # fmt: skip

        size_mb = int(os.environ.get("BENCH_SCHEMA_DATA_MB") or (20 if options.quick else 1024))
        rows = size_mb * 1024 * 1024 // ROW_BYTES
        data_project, data_branch, data_uri = bench.project("bench-data")
        started = time.perf_counter()
        _run_sql(data_uri, [
            "CREATE TABLE events (id bigint NOT NULL, account int NOT NULL, kind text NOT NULL,"
            " payload text)",
            f"INSERT INTO events SELECT g, g % 1000, 'kind-' || (g % 7),"
            f" md5(g::text) || lpad(g::text, 32, '0') FROM generate_series(1, {rows}) g",
            "ALTER TABLE events ADD PRIMARY KEY (id)",
            "CREATE TABLE accounts (id int PRIMARY KEY, name text)",
            "INSERT INTO accounts SELECT g, 'account ' || g FROM generate_series(1, 1000) g",
        ])  # fmt: skip
        generated = time.perf_counter() - started
        await bench.checkpoint(store, data_project, data_branch, "big-a")
        _run_sql(data_uri, [
            "UPDATE events SET payload = 'changed' WHERE id % 1000 = 0",
            "DELETE FROM events WHERE id % 5000 = 1",
            f"INSERT INTO events SELECT g, 1, 'new', 'x' FROM generate_series({rows + 1}, {rows + 1000}) g",
        ])  # fmt: skip
        await bench.checkpoint(store, data_project, data_branch, "big-b")
        size = psycopg.connect(data_uri).execute("SELECT pg_database_size(current_database())").fetchone()
        data_args = [
            "diff",
            "bench/big-a",
            "bench/big-b",
            "--data",
            "--rows",
            "10",
            "-o",
            "json",
            "--meta-database-url",
            meta_uri,
        ]
        data_diff, data_out = _run_cli(data_args, env)
        tables = json.loads(data_out)["data"]
        dumps, branches = [], []
        for side in ("big-a", "big-b"):
            snap = bench.neon.find_snapshot(data_project, side)
            assert snap is not None
            started = time.perf_counter()
            restored = bench.neon.restore_snapshot(data_project, snap.id, target_branch_id=data_branch,
                                                   finalize=False, name=f"dump-{side}")  # fmt: skip
            bench.neon.wait_for_operations(data_project, restored.operations, timeout=600)
            branches.append(time.perf_counter() - started)
            side_uri = bench.neon.connection_uri(
                data_project, database_name="neondb", role_name="neondb_owner", branch_id=restored.branch.id
            )
            dumps.append(_pg_dump(side_uri))
            bench.neon.delete_branch(data_project, restored.branch.id)
        mb = (size[0] if size else 0) / 1024 / 1024
        print(
            f"\ndiff --data of a {mb:.0f} MB database ({rows:,} rows in one table;"
            f" BENCH_SCHEMA_DATA_MB={size_mb}; generated in {generated:.0f} s):"
        )
        print(format_table(
            ["method", "what", "seconds"],
            [["diff --data --rows 10", "2 branches from the snapshots, counts, hashes, row merge",
              f"{data_diff:.1f}"],
             ["pg_dump -Fc x 2", "a dump of each side (its branch made beforehand, untimed)",
              f"{sum(dumps):.1f}"],
             ["  + their branches", "the same with each side's branch made from its snapshot",
              f"{sum(dumps) + sum(branches):.1f}"]],
        ))  # fmt: skip
        with_branches = sum(dumps) + sum(branches)
        print(f"ratio diff --data / (pg_dump of both sides): {data_diff / sum(dumps):.2f};"
              f" with their branches: {data_diff / with_branches:.2f}")  # fmt: skip
        print(_phases(data_diff, tables))
        for project_id in (project, data_project):
            bench.neon.delete_project(project_id)
    finally:
        await store.close()
        bench.neon.delete_project(meta_project)


def run(options: BenchOptions) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-schema-") as tmp:
        emulator = start_emulator(Path(tmp) / "emulator")
        try:
            bench = Bench(emulator.url, emulator.api_key)
            asyncio.run(_bench(bench, options))
            bench.neon.close()
        finally:
            emulator.stop()
