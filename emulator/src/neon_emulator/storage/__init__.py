"""Storage of PostgreSQL clusters for branches and snapshots, behind one interface with two drivers.

`open_storage(root)` picks the btrfs driver (subvolume snapshots: constant-time copy-on-write clones) when
`root` is on btrfs, else the copy driver (backup API + reflink-or-plain copy). Cluster names are branch and
snapshot ids; each cluster is a PostgreSQL data directory `root/<name>`.
"""

from __future__ import annotations

from pathlib import Path

from neon_emulator.storage.btrfs import BtrfsStorage
from neon_emulator.storage.copy import CopyStorage
from neon_emulator.storage.errors import NoSpaceError, StorageError
from neon_emulator.storage.filesystem import fs_type
from neon_emulator.storage.interface import ClusterSizes, CopyTiming, Storage
from neon_emulator.storage.root import DEFAULT_MIN_FREE_BYTES

DRIVERS = ("auto", "btrfs", "copy")

__all__ = [
    "DRIVERS",
    "BtrfsStorage",
    "ClusterSizes",
    "CopyStorage",
    "CopyTiming",
    "NoSpaceError",
    "Storage",
    "StorageError",
    "open_storage",
]


def open_storage(
    root: Path, driver: str = "auto", *, min_free_bytes: int = DEFAULT_MIN_FREE_BYTES
) -> Storage:
    """The storage at `root` (created if absent). `auto`: btrfs when `root` is on btrfs, else copy.

    Clones are refused with NoSpaceError when fewer than `min_free_bytes` would remain free."""
    if driver not in DRIVERS:
        raise StorageError(f"unknown storage driver {driver!r}; choose one of {', '.join(DRIVERS)}")
    root.mkdir(parents=True, exist_ok=True)
    if driver == "btrfs" or (driver == "auto" and fs_type(root) == "btrfs"):
        return BtrfsStorage(root, min_free_bytes=min_free_bytes)
    return CopyStorage(root, min_free_bytes=min_free_bytes)
