"""Who runs PostgreSQL, and where its binaries are.

PostgreSQL refuses to run as root. When the emulator runs as root, every server program (initdb, postgres,
pg_dump, ...) runs as an unprivileged system user instead: `postgres` (created by Debian's postgresql
package) unless `NEON_EMULATOR_PG_USER` names another. Its processes are spawned with `subprocess`'s
`user=`/`group=` (setuid in the child, no `runuser` in between, so the pid we hold is the server's), data
directories are owned by that user, and directories above the storage root get the search bit so it can reach
them. Run as any other user, everything runs as that user.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neon_emulator.storage.errors import StorageError

PG_BIN_ENV = "NEON_EMULATOR_PG_BIN"
PG_USER_ENV = "NEON_EMULATOR_PG_USER"


@dataclass(frozen=True)
class ServerUser:
    name: str
    uid: int
    gid: int
    switch: bool  # True when we are root and must drop to this user for server programs

    def popen_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for subprocess.Popen/run that run the child as this user."""
        if not self.switch:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": [], "env": self.env()}

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(HOME="/tmp", USER=self.name, LOGNAME=self.name)
        return env

    def own(self, path: Path) -> None:
        """Give `path` (a directory we just created, or a file) to this user."""
        if self.switch:
            os.chown(path, self.uid, self.gid)

    def make_reachable(self, path: Path) -> None:
        """Add the search bit (never read) to `path`'s ancestors the server user could not traverse."""
        if not self.switch:
            return
        for parent in [path, *path.parents]:
            st = parent.stat()
            if st.st_uid != self.uid and not st.st_mode & 0o001:
                parent.chmod(st.st_mode | 0o001)


@functools.cache
def server_user() -> ServerUser:
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return ServerUser(entry.pw_name, entry.pw_uid, entry.pw_gid, switch=False)
    name = os.environ.get(PG_USER_ENV, "postgres")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise StorageError(
            f"running as root, but PostgreSQL refuses to run as root and the user {name!r} does not exist: "
            f"install Debian's postgresql package (it creates 'postgres') or set {PG_USER_ENV}"
        ) from None
    if entry.pw_uid == 0:
        raise StorageError(f"{PG_USER_ENV}={name!r} is root; PostgreSQL needs an unprivileged user")
    return ServerUser(entry.pw_name, entry.pw_uid, entry.pw_gid, switch=True)


@functools.cache
def pg_bin_dir() -> Path:
    """Server binaries: $NEON_EMULATOR_PG_BIN, `pg_config --bindir`, the newest Debian install."""
    override = os.environ.get(PG_BIN_ENV)
    if override:
        path = Path(override)
        if not (path / "postgres").is_file():
            raise StorageError(f"{PG_BIN_ENV}={override} has no 'postgres' binary")
        return path
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0:
                candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.TimeoutExpired):
            pass
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = sorted((p for p in debian.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        candidates.extend(p / "bin" for p in reversed(versions))
    found = shutil.which("postgres")
    if found:
        candidates.append(Path(found).resolve().parent)
    for candidate in candidates:
        if (candidate / "postgres").is_file() and (candidate / "initdb").is_file():
            return candidate
    raise StorageError(
        f"PostgreSQL server binaries not found (tried pg_config --bindir, /usr/lib/postgresql/*/bin, PATH); "
        f"install postgresql or set {PG_BIN_ENV}"
    )
