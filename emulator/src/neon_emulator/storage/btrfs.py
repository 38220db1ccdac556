"""The copy-on-write driver: every cluster is a btrfs subvolume and a clone is a subvolume snapshot.

A snapshot is atomic and takes constant time whatever the size, and a snapshot of a running server is
crash-consistent as it stands (like pulling the plug). A CHECKPOINT first is not needed for correctness but
keeps the WAL the clone must replay at start short, so the clone starts fast.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from neon_emulator.storage.errors import StorageError
from neon_emulator.storage.filesystem import fs_type, remove_tree, run_tool
from neon_emulator.storage.interface import CopyTiming
from neon_emulator.storage.root import DEFAULT_MIN_FREE_BYTES, StorageRoot
from neon_emulator.storage.server_user import server_user

if TYPE_CHECKING:
    from neon_emulator.engine.postgres import PostgresProcess

_SUBVOLUME_ROOT_INODE = 256  # every btrfs subvolume's top directory has this inode number
TIMEOUT = 300.0


class BtrfsStorage(StorageRoot):
    driver = "btrfs"

    def __init__(self, root: Path, *, min_free_bytes: int = DEFAULT_MIN_FREE_BYTES) -> None:
        super().__init__(root, min_free_bytes=min_free_bytes)
        kind = fs_type(self.root)
        if kind != "btrfs":
            raise StorageError(f"the btrfs driver needs a btrfs filesystem, but {self.root} is on {kind}")

    def _make_container(self, path: Path) -> None:
        run_tool(["btrfs", "subvolume", "create", str(path)], f"creating subvolume {path}", timeout=TIMEOUT)
        server_user().own(path)
        path.chmod(0o700)

    def _delete(self, path: Path) -> None:
        if path.is_dir() and not path.is_symlink() and path.stat().st_ino == _SUBVOLUME_ROOT_INODE:
            argv = ["btrfs", "subvolume", "delete", str(path)]
            run_tool(argv, f"deleting subvolume {path}", timeout=TIMEOUT)
        else:
            remove_tree(path)

    def _copy_stopped(self, src: Path, dst: Path) -> None:
        self._snapshot(src, dst)

    def _clone(self, src: Path, dst: Path, running: PostgresProcess | None) -> CopyTiming:
        self._check_space(self.root, 0, f"snapshotting {src.name}")
        started = time.monotonic()
        lsn = None
        if running is not None:
            try:
                with running.admin_connect() as conn:
                    conn.execute("CHECKPOINT")
                    # Flushed WAL is in the subvolume snapshot taken next, so the copy holds all before it.
                    row = conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
                    lsn = str(row[0]) if row else None
            except psycopg.Error as exc:
                raise self._server_error(exc, f"CHECKPOINT before snapshotting {src.name}") from exc
        checkpointed = time.monotonic()
        self._snapshot(src, dst)
        checkpoint_seconds = checkpointed - started if running is not None else 0.0
        return CopyTiming(checkpoint_seconds, time.monotonic() - checkpointed, lsn)

    def _snapshot(self, src: Path, dst: Path) -> None:
        run_tool(
            ["btrfs", "subvolume", "snapshot", str(src), str(dst)],
            f"snapshotting {src} to {dst}",
            timeout=TIMEOUT,
        )
