"""The one launcher of the Neon emulator (`neon-emulator serve`) as a real subprocess, for tests, benchmarks
and the demo: it waits until the admin API answers (showing the log tail if the process exits first), and
stops it with SIGTERM (then SIGKILL)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devenv import processes
from devenv.processes import LocalServerError, ProcessGroup, free_port

START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0


@dataclass
class EmulatorServer:
    """A running `neon-emulator serve`: what clients need, plus control over the process."""

    url: str  # http://127.0.0.1:PORT/api/v2
    admin_url: str  # http://127.0.0.1:PORT/admin
    api_key: str = field(repr=False)
    data_dir: Path
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]
    argv: list[str] = field(repr=False)
    env: dict[str, str] = field(repr=False)
    group: ProcessGroup | None = field(default=None, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """An httpx client rooted at the API URL with the bearer key."""
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)

    def admin(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.admin_url, headers=self.headers, timeout=timeout)

    def log_tail(self, lines: int = 30) -> str:
        return processes.log_tail(self.log_path, lines)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until GET /admin/status answers; fails with the log tail if the process exits first."""

        def exited() -> str | None:
            return None if self.process.poll() is None else "neon-emulator"

        try:
            gone = processes.wait_answering(
                f"{self.admin_url}/status",
                exited=exited,
                timeout=timeout,
                headers=self.headers,
                interval=0.05,
            )
        except TimeoutError:
            self.kill()
            raise LocalServerError(
                f"neon-emulator did not answer within {timeout:.0f} s:\n{self.log_tail()}"
            ) from None
        if gone is not None:
            raise LocalServerError(
                f"neon-emulator exited with {self.process.returncode} while starting:\n{self.log_tail()}"
            )

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait; returns the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                processes.kill(self.process)
                raise LocalServerError(
                    f"neon-emulator ignored SIGTERM for {timeout:.0f} s:\n{self.log_tail()}"
                ) from None
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL, as in a crash: its postgres servers keep running."""
        processes.kill(self.process)

    def restart(self) -> EmulatorServer:
        """A new process on the same data dir and port (the old one must have exited)."""
        return _launch(self.argv, self.env, self.data_dir, self.port, self.api_key, self.log_path, self.group)


def start_emulator(
    data_dir: Path,
    *,
    storage: str | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    api_key: str | None = None,
    group: ProcessGroup | None = None,
) -> EmulatorServer:
    """`neon-emulator serve` on a free loopback port with its state in `data_dir` and its log beside it
    (`DIR.log`), ready to answer. `storage` defaults to NEON_EMULATOR_STORAGE (else auto); `env` adds to
    this process's environment; `api_key` defaults to a fresh random one. With `group` the emulator runs
    detached with its pid recorded there, so that the group (from any process) can stop it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    api_key = api_key or "emu-" + secrets.token_hex(16)
    port = free_port()
    argv = [sys.executable, "-m", "neon_emulator", "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += [
        "--data-dir",
        str(data_dir),
        "--storage",
        storage or os.environ.get("NEON_EMULATOR_STORAGE", "auto"),
    ]
    argv += list(args)
    full_env = {**os.environ, **(env or {}), "NEON_EMULATOR_API_KEY": api_key}
    log_path = data_dir.parent / f"{data_dir.name}.log"
    return _launch(argv, full_env, data_dir, port, api_key, log_path, group)


def _launch(
    argv: list[str],
    env: dict[str, str],
    data_dir: Path,
    port: int,
    api_key: str,
    log_path: Path,
    group: ProcessGroup | None,
) -> EmulatorServer:
    if group is None:
        process = processes.spawn(argv, log_path=log_path, env=env)
    else:
        process = group.spawn("emulator", argv, env=env, log_path=log_path)
    base = f"http://127.0.0.1:{port}"
    server = EmulatorServer(
        url=f"{base}/api/v2",
        admin_url=f"{base}/admin",
        api_key=api_key,
        data_dir=data_dir,
        port=port,
        log_path=log_path,
        process=process,
        argv=argv,
        env=env,
        group=group,
    )
    server.wait_ready()
    return server
