"""The portable driver: clusters are plain directories; a running cluster is copied with the backup API.

Copying a running server's files gives torn, inconsistent pages; PostgreSQL's low-level backup API makes
such a copy consistent: `pg_backup_start` (after a CHECKPOINT) fixes the redo point, the files are copied
while the server keeps running, `pg_backup_stop` returns the `backup_label` that tells the copy where to
replay from, and the WAL from the start to the stop location is copied last. A temporary physical
replication slot keeps that WAL from being recycled meanwhile. Files are cloned by reference when the
filesystem allows it (`cp --reflink=auto`), else copied.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from neon_emulator.storage.errors import NoSpaceError, StorageError
from neon_emulator.storage.filesystem import remove_tree, run_tool, supports_reflink, tree_bytes
from neon_emulator.storage.interface import CopyTiming
from neon_emulator.storage.postmaster_pid import PROCESS_FILES
from neon_emulator.storage.root import StorageRoot

if TYPE_CHECKING:
    from neon_emulator.engine.postgres import PostgresProcess

# Directories whose contents a backup leaves out (PostgreSQL recreates them), plus pg_wal (copied last).
EMPTY_IN_COPY = frozenset(
    [
        "pg_wal",
        "pg_replslot",
        "pg_dynshmem",
        "pg_notify",
        "pg_serial",
        "pg_snapshots",
        "pg_stat_tmp",
        "pg_subtrans",
    ]
)
_WAL_SEGMENT = re.compile(r"[0-9A-F]{24}")
_START_WAL = re.compile(r"^START WAL LOCATION: .* \(file ([0-9A-F]{24})\)$", re.MULTILINE)
_slot_numbers = itertools.count(1)
COPY_TIMEOUT = 3600.0


def wal_segments_between(names: list[str], first: str, last: str) -> list[str]:
    """The WAL segment files from `first` to `last` inclusive (same timeline), plus timeline history files."""
    timeline = first[:8]
    segments = [n for n in names if _WAL_SEGMENT.fullmatch(n) and n[:8] == timeline and first <= n <= last]
    return sorted(segments) + sorted(n for n in names if n.endswith(".history"))


def start_wal_file(label: str) -> str:
    match = _START_WAL.search(label)
    if match is None:
        raise StorageError("pg_backup_stop returned a backup label without a START WAL LOCATION")
    return match.group(1)


class CopyStorage(StorageRoot):
    driver = "copy"

    def __init__(self, root: Path, *, min_free_bytes: int | None = None, precheck_size: bool = True) -> None:
        if min_free_bytes is None:
            super().__init__(root)
        else:
            super().__init__(root, min_free_bytes=min_free_bytes)
        self.reflink = supports_reflink(self.root)
        # Without reflink a copy needs as much space as the source; check that before filling the disk.
        self.precheck_size = precheck_size

    def _make_container(self, path: Path) -> None:
        path.mkdir(mode=0o700)

    def _delete(self, path: Path) -> None:
        remove_tree(path)

    def _copy_stopped(self, src: Path, dst: Path) -> None:
        self._check_space(self.root, self._bytes_needed(src, frozenset()), f"copying {src.name}")
        _mkdir_like(src, dst)  # by us: the copy runs as the server user, who may not write to the root
        run_tool(
            ["cp", "-a", "--reflink=auto", "-T", "--", str(src), str(dst)],
            f"copying {src} to {dst}",
            timeout=COPY_TIMEOUT,
            as_server_user=True,
        )

    def _clone(self, src: Path, dst: Path, running: PostgresProcess | None) -> CopyTiming:
        if running is None:
            started = time.monotonic()
            self._copy_stopped(src, dst)
            return CopyTiming(0.0, time.monotonic() - started)
        self._check_space(self.root, self._bytes_needed(src, EMPTY_IN_COPY), f"copying {src.name}")
        try:
            with running.admin_connect() as conn:
                return self._copy_running(conn, src, dst)
        except psycopg.Error as exc:
            raise self._server_error(exc, f"the backup of {src.name} on its server") from exc

    def _bytes_needed(self, src: Path, skip: frozenset[str]) -> int:
        if self.reflink or not self.precheck_size:
            return 0
        return tree_bytes(src, skip)

    def _copy_running(self, conn: psycopg.Connection[Any], src: Path, dst: Path) -> CopyTiming:
        started = time.monotonic()
        conn.execute("CHECKPOINT")
        slot = f"neon_emulator_clone_{os.getpid()}_{next(_slot_numbers)}"
        conn.execute("SELECT pg_create_physical_replication_slot(%s, true, true)", [slot])
        conn.execute("SELECT pg_backup_start(%s, fast => true)", [f"clone to {dst.name}"])
        checkpointed = time.monotonic()

        _mkdir_like(src, dst)
        entries = [e for e in sorted(os.listdir(src)) if e not in EMPTY_IN_COPY and e not in PROCESS_FILES]
        run_tool(
            ["cp", "-a", "--reflink=auto", "-t", str(dst), "--", *(str(src / e) for e in entries)],
            f"copying {src} to {dst}",
            timeout=COPY_TIMEOUT,
            as_server_user=True,
            tolerate_vanished=True,
        )
        for name in EMPTY_IN_COPY:
            if (src / name).is_dir():
                _mkdir_like(src / name, dst / name)
        _mkdir_like(src / "pg_wal" / "archive_status", dst / "pg_wal" / "archive_status")

        row = conn.execute(
            "SELECT labelfile, spcmapfile, pg_walfile_name(lsn), lsn::text"
            " FROM pg_backup_stop(wait_for_archive => false)"
        ).fetchone()
        if row is None:
            raise StorageError("pg_backup_stop returned no row")
        label, spcmap, last_segment, stop_lsn = str(row[0]), str(row[1] or ""), str(row[2]), str(row[3])
        wal = wal_segments_between(os.listdir(src / "pg_wal"), start_wal_file(label), last_segment)
        wal_paths = [str(src / "pg_wal" / name) for name in wal]
        run_tool(
            ["cp", "-a", "--reflink=auto", "-t", str(dst / "pg_wal"), "--", *wal_paths],
            f"copying the WAL of {src} to {dst}",
            timeout=COPY_TIMEOUT,
            as_server_user=True,
        )
        conn.execute("SELECT pg_drop_replication_slot(%s)", [slot])
        _write_like(src / "PG_VERSION", dst / "backup_label", label)
        if spcmap:
            _write_like(src / "PG_VERSION", dst / "tablespace_map", spcmap)
        return CopyTiming(checkpointed - started, time.monotonic() - checkpointed, stop_lsn)


def _mkdir_like(model: Path, path: Path) -> None:
    """Create `path` with the owner and mode of the directory `model`."""
    st = model.stat()
    try:
        path.mkdir(mode=0o700)
    except OSError as exc:
        raise _os_error(exc, f"creating {path}") from exc
    os.chown(path, st.st_uid, st.st_gid)
    path.chmod(st.st_mode & 0o7777)


def _write_like(model: Path, path: Path, text: str) -> None:
    st = model.stat()
    try:
        path.write_text(text)
    except OSError as exc:
        raise _os_error(exc, f"writing {path}") from exc
    os.chown(path, st.st_uid, st.st_gid)
    path.chmod(st.st_mode & 0o7777)


def _os_error(exc: OSError, what: str) -> StorageError:
    if exc.errno == errno.ENOSPC:
        return NoSpaceError(f"no space left on device while {what}")
    return StorageError(f"{what} failed: {exc.strerror}")
