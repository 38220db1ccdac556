"""What both drivers share: the storage root's layout, the initdb template, space checks and removal."""

from __future__ import annotations

import abc
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from neon_emulator.storage import layout
from neon_emulator.storage.cluster import initdb
from neon_emulator.storage.errors import NoSpaceError, StorageError, is_no_space
from neon_emulator.storage.filesystem import MIB, file_stats, free_bytes
from neon_emulator.storage.interface import ClusterSizes, CopyTiming
from neon_emulator.storage.postmaster_pid import live_postmaster, remove_process_files
from neon_emulator.storage.server_user import server_user

if TYPE_CHECKING:
    from neon_emulator.engine.postgres import PostgresProcess

log = logging.getLogger(__name__)

DEFAULT_MIN_FREE_BYTES = 64 * MIB
NEARLY_FULL_BYTES = 16 * MIB


class StorageRoot(abc.ABC):
    """Clusters live in `root/<name>`; a pristine initdb'd `root/.template` is cloned for new clusters."""

    driver: str

    def __init__(self, root: Path, *, min_free_bytes: int = DEFAULT_MIN_FREE_BYTES) -> None:
        self.root = root.resolve()
        self.min_free_bytes = min_free_bytes
        self._template_lock = threading.Lock()
        self.root.mkdir(parents=True, exist_ok=True)
        server_user().make_reachable(self.root)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r})"

    def data_dir(self, name: str) -> Path:
        return layout.data_dir(self.root, name)

    def exists(self, name: str) -> bool:
        return (self.data_dir(name) / "PG_VERSION").is_file()

    def init_cluster(self, name: str) -> Path:
        """A fresh cluster for a new project's root branch: a clone of the stopped, pristine template."""
        self._ensure_template()
        dst = self.data_dir(name)
        self._check_new(dst)
        self._check_space(self.root, 0, f"creating {name}")
        try:
            self._copy_stopped(self.root / layout.TEMPLATE, dst)
        except BaseException:
            self._discard(dst)
            raise
        return dst

    def clone(self, src: str, dst: str, *, running: PostgresProcess | None = None) -> CopyTiming:
        src_dir, dst_dir = self.data_dir(src), self.data_dir(dst)
        if not self.exists(src):
            raise StorageError(f"cannot clone {src}: no cluster of that name in {self.root}")
        self._check_new(dst_dir)
        live = running is not None and running.running
        if not live and live_postmaster(src_dir) is not None:
            raise StorageError(f"cannot clone {src}: its server is running but was not passed as `running`")
        try:
            timing = self._clone(src_dir, dst_dir, running if live else None)
            remove_process_files(dst_dir)
        except BaseException:
            self._discard(dst_dir)
            raise
        log.info(
            "cloned %s to %s (%s): checkpoint %.3f s, copy %.3f s",
            src,
            dst,
            self.driver,
            timing.checkpoint_seconds,
            timing.copy_seconds,
        )
        return timing

    def remove(self, name: str) -> None:
        path = self.data_dir(name)
        if live_postmaster(path) is not None:
            raise StorageError(f"cannot remove {name}: its server is still running")
        self._discard(path)

    def sizes(self, name: str, base: str | None = None) -> ClusterSizes:
        """The cluster's bytes, and those of its files that are new or changed (size or mtime) since `base`:
        a file-level estimate of what Neon reports as a snapshot's `full_size` and `diff_size`."""
        files = file_stats(self.data_dir(name))
        full = sum(size for size, _ in files.values())
        if base is None or not self.exists(base):
            return ClusterSizes(full, full)
        before = file_stats(self.data_dir(base))
        diff = sum(stat[0] for rel, stat in files.items() if before.get(rel) != stat)
        return ClusterSizes(full, diff)

    # Driver specifics.

    @abc.abstractmethod
    def _make_container(self, path: Path) -> None:
        """An empty directory (btrfs: subvolume) for initdb."""

    @abc.abstractmethod
    def _copy_stopped(self, src: Path, dst: Path) -> None:
        """Copy a data directory no server runs on."""

    @abc.abstractmethod
    def _clone(self, src: Path, dst: Path, running: PostgresProcess | None) -> CopyTiming:
        """Crash-consistent copy of `src` into the absent `dst`; `running` serves `src` when not None."""

    @abc.abstractmethod
    def _delete(self, path: Path) -> None:
        """Remove an existing cluster directory (btrfs: subvolume)."""

    # Shared helpers.

    def _discard(self, path: Path) -> None:
        if path.exists() or path.is_symlink():
            self._delete(path)

    def _check_new(self, dst: Path) -> None:
        if dst.exists():
            raise StorageError(f"cannot create {dst.name}: it already exists in {self.root}")

    def _server_error(self, exc: Exception, what: str) -> StorageError:
        """A failed SQL step on the source server: out of space when it says so or the disk is (nearly) full
        (a failed CHECKPOINT only says "checkpoint request failed"; the reason is in the server log)."""
        text = str(exc)
        first = text.splitlines()[0] if text else type(exc).__name__
        free = free_bytes(self.root)
        if is_no_space(text) or free < NEARLY_FULL_BYTES:
            return NoSpaceError(
                f"no space left on device: {what} failed ({first}); {free // MIB} MiB free on {self.root}"
            )
        return StorageError(f"{what} failed: {first}")

    def _check_space(self, where: Path, needed: int, what: str) -> None:
        """Refuse up front rather than fill the disk: a full disk makes running servers PANIC."""
        free = free_bytes(where)
        if free < needed + self.min_free_bytes:
            raise NoSpaceError(
                f"no space left on device for {what}: {free // MIB} MiB free on {self.root}, "
                f"need {(needed + self.min_free_bytes) // MIB} MiB "
                f"(incl. a {self.min_free_bytes // MIB} MiB reserve)"
            )

    def _ensure_template(self) -> None:
        template = self.root / layout.TEMPLATE
        with self._template_lock:
            if (template / "PG_VERSION").is_file():
                return
            self._discard(template)  # a half-made template from an interrupted run
            building = self.root / f"{layout.TEMPLATE}-building"
            self._discard(building)
            started = time.monotonic()
            self._make_container(building)
            try:
                initdb(building)
                building.rename(template)
            except BaseException:
                self._discard(building)
                raise
            log.info("initdb template in %s took %.2f s", self.root, time.monotonic() - started)
