"""One PostgreSQL server process on a data directory: start, stop, connect as the superuser.

The server listens on 127.0.0.1:`port` and on a unix socket in `socket_dir`; `admin_connect` uses the socket,
where `cloud_admin` is trusted (TCP needs a password). When the emulator runs as root the server runs as the
unprivileged server user (see `storage.server_user`). A server left running by an emulator that was killed
is recognised by its lock file (pid + working directory) and stopped before a fresh start; a stale lock file
of a crashed server is removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

from neon_emulator.storage.cluster import SUPERUSER
from neon_emulator.storage.errors import StorageError
from neon_emulator.storage.postmaster_pid import is_postmaster_of, live_postmaster, remove_process_files
from neon_emulator.storage.server_user import pg_bin_dir, server_user

from .tls import ServerFiles

log = logging.getLogger(__name__)

_SOCKET_PATH_MAX = 107  # sizeof(sun_path) - 1 on Linux
_POLL = 0.01


# Run a background process at a lower CPU priority (coreutils' nice execs it: the pid is the process's).
BACKGROUND_PREFIX = ["nice", "-n", "10"]


class PostgresError(StorageError):
    """A server did not start or stop; the message names the data directory and the log to read."""


class PostgresProcess:
    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        socket_dir: Path,
        log_path: Path,
        tls: ServerFiles | None = None,  # TLS on the TCP port, and only TLS (tls.py)
        background: bool = False,  # a throwaway reader: lower CPU priority, no fsync, no autovacuum
    ) -> None:
        self.data_dir = data_dir
        self.tls = tls
        self.background = background
        self.port = port
        self.socket_dir = socket_dir
        self.log_path = log_path
        socket_path = socket_dir / f".s.PGSQL.{port}"
        if len(str(socket_path)) > _SOCKET_PATH_MAX:
            raise PostgresError(
                f"unix socket path {socket_path} is longer than {_SOCKET_PATH_MAX} bytes; "
                "use a shorter socket_dir"
            )
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"PostgresProcess(data_dir={str(self.data_dir)!r}, port={self.port})"

    @property
    def running(self) -> bool:
        if self._proc is not None and self._proc.poll() is None:
            return True
        return live_postmaster(self.data_dir) is not None

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it accepts connections; a no-op when it already runs here."""
        deadline = time.monotonic() + timeout
        current = live_postmaster(self.data_dir)
        if current is not None:
            if current.port == self.port:
                self._wait_ready(deadline)
                return
            # Left running with another port (e.g. by an emulator that was killed): restart it on ours.
            self._stop_pid(current.pid, deadline)
        self._reap()
        remove_process_files(self.data_dir)
        user = server_user()
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        user.own(self.socket_dir)
        # The socket trusts cloud_admin: only the server's user (and root) may reach it.
        self.socket_dir.chmod(0o700)
        user.make_reachable(self.data_dir)
        # A background server stands in for work Neon does on its own machines: it yields the CPU to the
        # branches' servers and to the clients under test, and writes nothing it must keep.
        argv = [*BACKGROUND_PREFIX] if self.background else []
        argv += [
            str(pg_bin_dir() / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-k",
            str(self.socket_dir),
            "-c",
            "listen_addresses=127.0.0.1",
        ]
        if self.background:
            argv += ["-c", "fsync=off", "-c", "autovacuum=off", "-c", "full_page_writes=off"]
        if self.tls is not None:
            argv += [
                "-c",
                "ssl=on",
                "-c",
                f"ssl_cert_file={self.tls.cert}",
                "-c",
                f"ssl_key_file={self.tls.key}",
            ]
            argv += ["-c", f"hba_file={self.tls.hba}"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            try:
                self._proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # a Ctrl-C to the emulator must not hit the servers directly
                    cwd=self.data_dir,
                    **user.popen_kwargs(),
                )
            except OSError as exc:
                raise PostgresError(f"cannot run postgres for {self.data_dir}: {exc.strerror}") from exc
        log.info(
            "postgres starting on 127.0.0.1:%d for %s (pid %d)",
            self.port,
            self.data_dir,
            self._proc.pid,
        )
        try:
            self._wait_ready(deadline)
        except PostgresError:
            self._kill_own()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: roll back sessions, checkpoint, exit), immediate (SIGQUIT: no checkpoint)
        for a background server, whose files are thrown away; a no-op when not running."""
        deadline = time.monotonic() + timeout
        if self._proc is not None and self._proc.poll() is None:
            self._stop_pid(self._proc.pid, deadline)
        current = live_postmaster(self.data_dir)
        if current is not None:
            self._stop_pid(current.pid, deadline)
        self._reap()

    def admin_connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """An autocommit superuser connection over the unix socket (trusted; no password involved)."""
        try:
            return psycopg.connect(
                host=str(self.socket_dir),
                port=self.port,
                user=SUPERUSER,
                dbname=dbname,
                autocommit=True,
                connect_timeout=10,
            )
        except psycopg.OperationalError as exc:
            raise PostgresError(f"cannot connect to the server of {self.data_dir}: {exc}") from exc

    def _wait_ready(self, deadline: float) -> None:
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise PostgresError(
                    f"postgres for {self.data_dir} exited with status {self._proc.returncode} "
                    "while starting: "
                    f"{self._log_tail()} (log: {self.log_path})"
                )
            info = live_postmaster(self.data_dir)
            if info is not None and info.status == "ready" and self._accepts():
                return
            if time.monotonic() > deadline:
                raise PostgresError(
                    f"postgres for {self.data_dir} did not accept connections in time: {self._log_tail()} "
                    f"(log: {self.log_path})"
                )
            time.sleep(_POLL)

    def _accepts(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(str(self.socket_dir / f".s.PGSQL.{self.port}"))
            except OSError:
                return False
        return True

    def _stop_pid(self, pid: int, deadline: float) -> None:
        """SIGINT (fast shutdown), then SIGQUIT (immediate) if the deadline passes, until the pid is gone."""
        sent_quit = self.background
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT if self.background else signal.SIGINT)
        while self._alive(pid):
            if time.monotonic() > deadline:
                if sent_quit:
                    raise PostgresError(f"postgres (pid {pid}) for {self.data_dir} did not stop")
                log.warning("postgres (pid %d) did not stop in time; immediate shutdown", pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGQUIT)
                sent_quit = True
                deadline = time.monotonic() + 10
            time.sleep(_POLL)

    def _alive(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None
        return is_postmaster_of(pid, self.data_dir)

    def _kill_own(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGQUIT)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None

    def _reap(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None

    def _log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])
