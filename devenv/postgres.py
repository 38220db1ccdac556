"""A throwaway PostgreSQL cluster (initdb + pg_ctl) on a free loopback port: the tests' server and the
benchmarks' meta database."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devenv import tools
from devenv.processes import LocalServerError, free_port


def _as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the Debian `postgres` user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class PostgresCluster:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) on a free loopback port, trust auth for `postgres`."""

    state_dir: Path
    port: int = 0

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "pgdata"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        bindir = tools.postgres_bin_dir()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        if os.geteuid() == 0:
            # The postgres user must be able to reach and own its directories.
            for parent in [self.state_dir, *self.state_dir.parents]:
                if parent == Path("/"):
                    break
                parent.chmod(parent.stat().st_mode | 0o711)
            shutil.chown(self.state_dir, "postgres", "postgres")
        run = _as_postgres_user()
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [
                    *run,
                    str(bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ],
                check=True,
                capture_output=True,
                text=True,
            )
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.state_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        result = subprocess.run(
            [
                *run,
                str(bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.state_dir / "postgres.log"),
                "-o",
                opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise LocalServerError(
                f"PostgreSQL did not start: {result.stderr.strip()}; see {self.state_dir / 'postgres.log'}"
            )

    def stop(self) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return
        subprocess.run(
            [
                *_as_postgres_user(),
                str(tools.postgres_bin_dir() / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
                "stop",
            ],
            capture_output=True,
            text=True,
        )
