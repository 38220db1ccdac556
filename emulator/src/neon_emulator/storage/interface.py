"""What the emulator's model sees of storage: named clusters that can be created, cloned and removed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from neon_emulator.engine.postgres import PostgresProcess


@dataclass(frozen=True)
class CopyTiming:
    checkpoint_seconds: float  # CHECKPOINT (and, for the copy driver, pg_backup_start) on the running source
    copy_seconds: float  # the snapshot or file copy, WAL and backup_label included
    # A WAL position the copy holds everything before (None when the source was not running).
    lsn: str | None = None


@dataclass(frozen=True)
class ClusterSizes:
    full: int  # bytes of the cluster's files
    diff: int  # bytes of the files that are new or changed since the base cluster (all of them without one)


class Storage(Protocol):
    driver: str  # "btrfs" or "copy"
    root: Path

    def data_dir(self, name: str) -> Path: ...

    def exists(self, name: str) -> bool: ...

    def init_cluster(self, name: str) -> Path: ...

    def clone(self, src: str, dst: str, *, running: PostgresProcess | None = None) -> CopyTiming: ...

    def remove(self, name: str) -> None: ...

    def sizes(self, name: str, base: str | None = None) -> ClusterSizes: ...
