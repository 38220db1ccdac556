"""Loop-mounted filesystem images (hack/btrfs-loop.sh does the mounting): btrfs gives the emulator
copy-on-write snapshots, as Neon's storage has."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from devenv.tools import HACK_DIR

LOOP_SCRIPT = HACK_DIR / "btrfs-loop.sh"


def loop_mount_unavailable(fstype: str = "btrfs") -> str | None:
    """Why a `fstype` image cannot be loop-mounted here, or None if it can."""
    if os.geteuid() != 0:
        return "loop-mounting a filesystem image needs root"
    if shutil.which(f"mkfs.{fstype}") is None:
        return f"mkfs.{fstype} is not installed (apt-get install btrfs-progs / e2fsprogs)"
    return None


@contextlib.contextmanager
def loop_mounted(workdir: Path, size: str, fstype: str = "btrfs") -> Iterator[Path]:
    """A fresh sparse `fstype` image of `size` in `workdir`, mounted on `workdir/mnt`; always unmounted,
    detached and removed after. Check `loop_mount_unavailable` first."""
    image, mnt = workdir / "fs.img", workdir / "mnt"
    try:
        subprocess.run(
            [str(LOOP_SCRIPT), "up", str(image), str(mnt), size, fstype],
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )
        yield mnt
    finally:
        subprocess.run([str(LOOP_SCRIPT), "down", str(mnt), str(image)], check=False, timeout=120)
