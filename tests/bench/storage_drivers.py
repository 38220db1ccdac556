"""Snapshot and restore time against database size, for the emulator's storage drivers and for
`pg_dump -Fc` / `pg_restore` of the same database (what a user without Neon does).

- snapshot = `Storage.clone(branch, snapshot, running=server)` of a running server right after a fixed burst
  of writes (10,000 inserted and 1,000 scattered updated rows), split into the CHECKPOINT (for the copy
  driver with pg_backup_start) and the copy; for dump/restore: `pg_dump -Fc` of the database to a file.
- restore = `Storage.clone(snapshot, new branch)` + starting postgres on it until it accepts connections
  (crash or backup recovery included); for dump/restore: CREATE DATABASE + `pg_restore` of that file.
Every restored copy is checked to hold the snapshot's rows. The snapshot column is also what a snapshot POST
to the emulator spends before it answers: the copy is made in the request, so that the snapshot is the
branch's state when the request was accepted (issue 18). The btrfs driver runs on a sparse loop-mounted
btrfs image (needs root and btrfs-progs, else it is left out with the reason); the copy driver runs in /tmp.
"""

from __future__ import annotations

import contextlib
import platform
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devenv.loopfs import loop_mount_unavailable, loop_mounted
from neon_emulator.engine.ports import free_port
from neon_emulator.engine.postgres import PostgresProcess
from neon_emulator.storage import BtrfsStorage, CopyStorage, Storage
from neon_emulator.storage.filesystem import MIB, fs_type
from neon_emulator.storage.server_user import pg_bin_dir
from tests.bench import BenchOptions, format_table

SIZES_MB = (10, 100, 1024)
QUICK_SIZES_MB = (10, 50)
ROW_BYTES = 170  # heap + primary key bytes per generated row, measured on PostgreSQL 15
BURST_INSERTS = 10_000
BURST_UPDATES = 1_000
DB = "app"


@dataclass(frozen=True)
class Result:
    size_mb: float
    method: str
    checkpoint: float | None
    copy: float | None
    snapshot: float
    restore_copy: float | None
    start: float | None
    restore: float


class Bench:
    """Owns every server, mount and directory of one run; `close()` (via ExitStack) releases them all."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="nes-bench-", dir="/tmp"))
        stack.callback(shutil.rmtree, self.workdir, True)
        self.socket_dir = self.workdir / "s"
        self.servers: list[PostgresProcess] = []
        stack.callback(self._stop_all)

    def _stop_all(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()

    def server(self, storage: Storage, name: str) -> PostgresProcess:
        proc = PostgresProcess(
            storage.data_dir(name),
            free_port(),
            socket_dir=self.socket_dir,
            log_path=self.workdir / "logs" / f"{storage.driver}-{name}.log",
        )
        self.servers.append(proc)
        return proc


def timed(fn: Callable[[], object]) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def populate(server: PostgresProcess, size_mb: int) -> int:
    rows = size_mb * MIB // ROW_BYTES
    with server.admin_connect() as conn:
        conn.execute(f"CREATE DATABASE {DB}")
    with server.admin_connect(DB) as conn:
        conn.execute("CREATE TABLE items (id bigint NOT NULL, name text, email text, payload text)")
        conn.execute(
            "INSERT INTO items SELECT g, 'name ' || g, 'user' || g || '@example.com', repeat(md5(g::text), 2)"
            " FROM generate_series(1, %s) g",
            [rows],
        )
        conn.execute("ALTER TABLE items ADD PRIMARY KEY (id)")
        conn.execute("CHECKPOINT")
    return rows


def write_burst(server: PostgresProcess, rows: int, seed: int) -> int:
    """The same app activity before every snapshot; returns the row count afterwards."""
    ids = random.Random(seed).sample(range(1, rows + 1), BURST_UPDATES)
    with server.admin_connect(DB) as conn:
        conn.execute(
            "INSERT INTO items SELECT g, 'name ' || g, 'new' || g || '@example.com', md5(g::text)"
            " FROM generate_series(%s, %s) g",
            [rows + 1, rows + BURST_INSERTS],
        )
        conn.execute("UPDATE items SET payload = md5(payload) WHERE id = ANY(%s)", [ids])
    return rows + BURST_INSERTS


def database_mb(server: PostgresProcess) -> float:
    with server.admin_connect() as conn:
        row = conn.execute("SELECT pg_database_size(%s)", [DB]).fetchone()
    assert row is not None
    return float(row[0]) / MIB


def count_rows(server: PostgresProcess, dbname: str) -> int:
    with server.admin_connect(dbname) as conn:
        row = conn.execute("SELECT count(*) FROM items").fetchone()
    assert row is not None
    return int(row[0])


def measure_driver(
    bench: Bench, storage: Storage, branch: str, rows: int, size_mb: float
) -> tuple[Result, int]:
    server = bench.server(storage, branch)
    server.start()
    expected = write_burst(server, rows, seed=len(storage.driver))
    snapshot, restored = f"{branch}-snap", f"{branch}-restored"
    timing = storage.clone(branch, snapshot, running=server)
    restore_copy = storage.clone(snapshot, restored).copy_seconds
    restored_server = bench.server(storage, restored)
    start = timed(restored_server.start)
    got = count_rows(restored_server, DB)
    if got != expected:
        raise AssertionError(f"{storage.driver}: restored copy has {got} rows, the snapshot had {expected}")
    restored_server.stop()
    storage.remove(restored)
    storage.remove(snapshot)
    result = Result(
        size_mb=size_mb,
        method=f"{storage.driver} driver" + (" (reflink)" if getattr(storage, "reflink", False) else ""),
        checkpoint=timing.checkpoint_seconds,
        copy=timing.copy_seconds,
        snapshot=timing.checkpoint_seconds + timing.copy_seconds,
        restore_copy=restore_copy,
        start=start,
        restore=restore_copy + start,
    )
    return result, expected


def measure_dump_restore(bench: Bench, server: PostgresProcess, expected: int, size_mb: float) -> Result:
    dump = bench.workdir / "app.dump"
    conn_args = ["-h", str(server.socket_dir), "-p", str(server.port), "-U", "cloud_admin"]
    bin_dir = pg_bin_dir()
    dump_s = timed(
        lambda: subprocess.run(
            [str(bin_dir / "pg_dump"), *conn_args, "-Fc", "-f", str(dump), DB], check=True, timeout=3600
        )
    )

    def restore() -> None:
        with server.admin_connect() as conn:
            conn.execute(f"CREATE DATABASE {DB}_restored")
        argv = [str(bin_dir / "pg_restore"), *conn_args, "-d", f"{DB}_restored", str(dump)]
        subprocess.run(argv, check=True, timeout=3600)

    restore_s = timed(restore)
    got = count_rows(server, f"{DB}_restored")
    if got != expected:
        raise AssertionError(f"pg_restore: restored database has {got} rows, the dump had {expected}")
    with server.admin_connect() as conn:
        conn.execute(f"DROP DATABASE {DB}_restored")
    dump.unlink()
    return Result(size_mb, "pg_dump -Fc / pg_restore", None, None, dump_s, None, None, restore_s)


def measure_size(bench: Bench, storages: list[Storage], size_mb: int) -> list[Result]:
    branch = f"db-{size_mb}"
    first = storages[0]
    first.init_cluster(branch)
    loader = bench.server(first, branch)
    loader.start()
    rows = populate(loader, size_mb)
    actual_mb = database_mb(loader)
    loader.stop()
    for other in storages[1:]:  # the same cluster for every driver
        dst = other.data_dir(branch)
        subprocess.run(["cp", "-a", "-T", str(first.data_dir(branch)), str(dst)], check=True, timeout=3600)
    results: list[Result] = []
    expected = rows
    for storage in storages:
        result, expected = measure_driver(bench, storage, branch, rows, actual_mb)
        results.append(result)
    server = bench.server(first, branch)
    server.start()
    results.append(measure_dump_restore(bench, server, expected, actual_mb))
    for storage in storages:
        bench.server(storage, branch).stop()
        storage.remove(branch)
    return results


def fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.3f}"


def report(results: list[Result]) -> str:
    baseline = {r.size_mb: r for r in results if r.method.startswith("pg_dump")}
    rows = []
    for r in results:
        base = baseline[r.size_mb]
        rows.append(
            [
                f"{r.size_mb:.0f} MB",
                r.method,
                fmt(r.snapshot),
                fmt(r.checkpoint),
                fmt(r.copy),
                fmt(r.restore),
                fmt(r.restore_copy),
                fmt(r.start),
                f"{base.snapshot / r.snapshot:.1f}x",
                f"{base.restore / r.restore:.1f}x",
            ]
        )
    headers = [
        "db size",
        "method",
        "snapshot s",
        "checkpoint s",
        "copy s",
        "restore s",
        "clone s",
        "start s",
        "snap vs dump",
        "restore vs pg_restore",
    ]
    return format_table(headers, rows)


def run(options: BenchOptions) -> None:
    sizes = QUICK_SIZES_MB if options.quick else SIZES_MB
    with contextlib.ExitStack() as stack:
        bench = Bench(stack)
        storages: list[Storage] = []
        reason = loop_mount_unavailable("btrfs")
        if reason is None:
            image_size = f"{max(4, 6 * max(sizes) // 1024 + 2)}G"
            mnt = stack.enter_context(loop_mounted(bench.workdir, image_size))
            storages.append(BtrfsStorage(mnt / "data"))
        else:
            print(f"btrfs driver left out: {reason}")
        copy = CopyStorage(bench.workdir / "copy")
        storages.append(copy)
        print(
            f"PostgreSQL: {pg_bin_dir()}; kernel {platform.release()}; copy driver on {fs_type(copy.root)} "
            f"(reflink: {'yes' if copy.reflink else 'no'}); sizes {', '.join(f'{s} MB' for s in sizes)}",
            flush=True,
        )
        results: list[Result] = []
        for size in sizes:
            print(f"-- {size} MB ...", flush=True)
            results.extend(measure_size(bench, storages, size))
        print()
        print(report(results))
        print(
            "\nsnapshot = CHECKPOINT + copy of a running server after the same write burst; "
            "restore = clone of the snapshot + postgres start until it accepts connections "
            "(recovery included). "
            "Ratios: pg_dump (resp. pg_restore) time / this method's time. "
            "A snapshot POST to the emulator answers after its snapshot s (the copy is made in the request)."
        )
