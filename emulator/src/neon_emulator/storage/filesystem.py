"""Thin shells over the filesystem: its type, free space, reflink support, and running copy tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from neon_emulator.storage.errors import NoSpaceError, StorageError, is_no_space
from neon_emulator.storage.server_user import server_user

MIB = 1024 * 1024


def fs_type(path: Path) -> str:
    """The filesystem type name of `path` as statfs reports it ("btrfs", "ext2/ext3", "xfs", "tmpfs", ...)."""
    out = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise StorageError(f"cannot inspect the filesystem of {path}: {out.stderr.strip()}")
    return out.stdout.strip()


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def tree_bytes(path: Path, skip: frozenset[str] = frozenset()) -> int:
    """Apparent size of the files under `path` (top-level entries named in `skip` left out)."""
    total = 0
    for top in path.iterdir():
        if top.name in skip:
            continue
        if top.is_file() and not top.is_symlink():
            total += _size(top)
            continue
        for dirpath, _, files in os.walk(top):
            total += sum(_size(Path(dirpath, f)) for f in files)
    return total


def file_stats(path: Path) -> dict[str, tuple[int, str]]:
    """Every regular file under `path`, by relative path: (apparent size, mtime as find(1) prints it).

    One `find` process walks the tree: a Python walk of a data directory's ~1,000 files cost tens of
    milliseconds of the emulator's CPU per snapshot, and held its event loop back while it ran."""
    listing = subprocess.run(
        ["find", str(path), "-type", "f", "-printf", "%P\\t%s\\t%T@\\n"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    found: dict[str, tuple[int, str]] = {}
    for line in listing.stdout.splitlines():
        rel, size, mtime = line.rsplit("\t", 2)
        found[rel] = (int(size), mtime)
    return found


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except FileNotFoundError:  # a running server dropped it meanwhile
        return 0


def supports_reflink(directory: Path) -> bool:
    """Whether files in `directory` can be cloned by reference (btrfs, xfs with reflink, ...)."""
    with tempfile.TemporaryDirectory(dir=directory, prefix=".reflink-probe-") as tmp:
        src = Path(tmp, "a")
        src.write_bytes(b"x" * 4096)
        out = subprocess.run(
            ["cp", "--reflink=always", str(src), str(Path(tmp, "b"))], capture_output=True, timeout=10
        )
        return out.returncode == 0


def run_tool(
    argv: Sequence[str],
    what: str,
    *,
    timeout: float,
    tolerate_vanished: bool = False,
    as_server_user: bool = False,
) -> None:
    """Run a filesystem tool (cp, btrfs); ENOSPC becomes NoSpaceError, other failures StorageError.

    With `tolerate_vanished`, "No such file or directory" complaints are accepted: copying a running
    server's directory races with it deleting temporary files, which the WAL replay does not need.
    `as_server_user` runs it as the PostgreSQL server's user: a copy made as root could use the blocks
    ext4 reserves for root and leave the server with none (it PANICs when it cannot write WAL)."""
    kwargs = server_user().popen_kwargs() if as_server_user else {}
    try:
        out = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as exc:
        raise StorageError(f"{what} did not finish within {timeout:.0f} s") from exc
    if out.returncode == 0:
        return
    errors = [line for line in out.stderr.splitlines() if line.strip()]
    if is_no_space(out.stderr):
        raise NoSpaceError(f"no space left on device while {what}")
    if tolerate_vanished and errors and all("No such file or directory" in line for line in errors):
        return
    raise StorageError(f"{what} failed: {' | '.join(errors[-3:]) or f'exit status {out.returncode}'}")


def remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
