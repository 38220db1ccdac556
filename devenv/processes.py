"""Local server processes: start one with its output in a log file, wait until it answers over HTTP while
watching for an early exit, stop it (SIGTERM, then SIGKILL); and `ProcessGroup`, detached processes whose pids
are recorded in a state directory so another process can stop them later."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from neon_emulator.engine.ports import free_port as free_port  # one port picker for every local server


class LocalServerError(RuntimeError):
    """A local server failed to start or to stop; the message says which, and shows or names its log."""


def spawn(
    argv: Sequence[str], *, log_path: Path, env: Mapping[str, str] | None = None, detached: bool = False
) -> subprocess.Popen[bytes]:
    """Start `argv` with stdout and stderr appended to `log_path` and stdin from /dev/null; `detached` puts it
    in a session of its own (its process group can then be signalled as a whole)."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=detached,
            env=None if env is None else dict(env),
        )


def terminate(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM and wait; SIGKILL if it does not exit in time. Idempotent."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL, as in a crash, and reap it. Idempotent."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_answering(
    url: str,
    *,
    exited: Callable[[], str | None],
    timeout: float,
    headers: Mapping[str, str] | None = None,
    context: ssl.SSLContext | None = None,
    interval: float = 0.1,
) -> str | None:
    """Poll `url` until it answers 200. `exited()` says which watched process has exited (or None): then
    waiting stops early. Returns that, or None when the URL answered; raises TimeoutError after `timeout`
    with the last error seen."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        gone = exited()
        if gone is not None:
            return gone
        try:
            with urllib.request.urlopen(request, timeout=2, context=context) as resp:
                if resp.status == 200:
                    return None
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(interval)
    raise TimeoutError(last)


@dataclass
class ProcessGroup:
    """Processes started detached, with pids persisted in `state_dir/pids.json`."""

    state_dir: Path
    pids: dict[str, int] = field(default_factory=dict)
    # Our own children, kept so they are reaped (a dropped Popen of a live process is a ResourceWarning).
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "pids.json"

    def log_path(self, name: str) -> Path:
        return self.state_dir / f"{name}.log"

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `argv` detached as `name`, its output in `log_path` (default `state_dir/NAME.log`)."""
        proc = spawn(argv, log_path=log_path or self.log_path(name), env=env, detached=True)
        self.children[name] = proc
        self.pids[name] = proc.pid
        self.pid_file.write_text(json.dumps(self.pids))
        return proc

    def alive(self, name: str) -> bool:
        child = self.children.get(name)
        if child is not None:
            return child.poll() is None
        pid = self.pids.get(name)
        if pid is None:
            return False
        try:  # started by another process (e.g. `up` earlier): probe it
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop_all(self, timeout: float = 20.0) -> None:
        if not self.pids and self.pid_file.exists():
            self.pids = json.loads(self.pid_file.read_text())
        # Reverse start order: e.g. controller-manager, apiserver, then etcd.
        for name in reversed(list(self.pids)):
            self._stop(name, timeout)
        self.pids.clear()
        self.children.clear()
        self.pid_file.unlink(missing_ok=True)

    def stop(self, name: str, timeout: float = 20.0) -> None:
        """Stop one process of the group (SIGTERM, then SIGKILL), e.g. to restart it."""
        self._stop(name, timeout)

    def _stop(self, name: str, timeout: float) -> None:
        pid = self.pids[name]
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive(name):
            time.sleep(0.05)
        if self.alive(name):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        child = self.children.get(name)
        if child is not None:
            child.wait(timeout)
