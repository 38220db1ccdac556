"""Reading `postmaster.pid`: whether a live server owns a data directory, and dropping stale lock files."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

PID_FILE = "postmaster.pid"
# Files a copy of a data directory must not carry: they describe the source's server process.
PROCESS_FILES = (PID_FILE, "postmaster.opts")


@dataclass(frozen=True)
class PidFile:
    pid: int
    port: int | None
    status: str  # "starting", "ready", "stopping" or "" (PM_STATUS line, PostgreSQL 10+)


def parse_pid_file(text: str) -> PidFile | None:
    """Parse postmaster.pid (pid, data dir, start time, port, socket dir, listen addr, shmem key, status)."""
    lines = text.split("\n")
    try:
        pid = int(lines[0])
    except (ValueError, IndexError):
        return None
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
    status = lines[7].strip() if len(lines) > 7 else ""
    return PidFile(pid=pid, port=port, status=status)


def read_pid_file(data_dir: Path) -> PidFile | None:
    try:
        return parse_pid_file((data_dir / PID_FILE).read_text())
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None


def is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """A live process whose working directory is `data_dir` (the postmaster chdirs into its data dir)."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == data_dir.resolve()
    except OSError:
        return False


def live_postmaster(data_dir: Path) -> PidFile | None:
    """The lock file of the server running on `data_dir`, or None when none runs (a stale file is ignored)."""
    info = read_pid_file(data_dir)
    if info is not None and is_postmaster_of(info.pid, data_dir):
        return info
    return None


def remove_process_files(data_dir: Path) -> None:
    """Drop the pid/opts files of a copy or of a crashed server, so a start is never blocked by them."""
    for name in PROCESS_FILES:
        with contextlib.suppress(FileNotFoundError):
            (data_dir / name).unlink()
