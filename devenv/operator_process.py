"""The one launcher of the operator (`neon-checkpoints operator`, the console script) as a real subprocess,
for tests, benchmarks and the demo: it waits until kopf's liveness endpoint answers (showing the log tail if
the process exits first), and can stop it, kill it with SIGKILL as in a crash, and start it again.

(Not `operator.py`: run from inside this folder, that name would shadow the standard library's `operator`.)
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devenv import processes, tools
from devenv.processes import LocalServerError, ProcessGroup, free_port

START_TIMEOUT = 90.0


@dataclass
class OperatorProcess:
    """A running `neon-checkpoints operator`. The console script is Python itself: `pid` is the operator's."""

    process: subprocess.Popen[bytes]
    log_path: Path
    health_url: str
    argv: list[str] = field(repr=False)
    env: dict[str, str] = field(repr=False)
    group: ProcessGroup | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return processes.log_tail(self.log_path, lines)

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        """Until the liveness endpoint answers 200 (kopf serves it once its startup handlers are done)."""

        def exited() -> str | None:
            return None if self.process.poll() is None else "neon-checkpoints operator"

        try:
            gone = processes.wait_answering(self.health_url, exited=exited, timeout=timeout, interval=0.1)
        except TimeoutError as exc:
            raise LocalServerError(
                f"the operator's liveness endpoint {self.health_url} did not answer within {timeout:.0f} s "
                f"({exc}):\n{self.log_tail()}"
            ) from None
        if gone is not None:
            raise LocalServerError(
                f"the operator exited with {self.process.returncode} while starting:\n{self.log_tail()}"
            )

    def wait_exit(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (kopf stops gracefully), then SIGKILL if it takes longer than `timeout`. Idempotent."""
        processes.terminate(self.process, timeout)

    def kill(self) -> None:
        """SIGKILL, as in a crash."""
        processes.kill(self.process)

    def restart(self, *, wait: bool = True) -> OperatorProcess:
        """A new process with the same arguments, environment and log (the old one must have exited)."""
        return _launch(self.argv, self.env, self.log_path, self.health_url, self.group, wait=wait)


def start_operator(
    *,
    neon_api_url: str,
    neon_api_key: str,
    meta_database_url: str,
    kubeconfig: Path,
    log_path: Path,
    namespaces: Sequence[str] = (),
    settings: Mapping[str, str] | None = None,
    args: Sequence[str] | None = None,
    health_port: int | None = None,
    environ: Mapping[str, str] | None = None,
    group: ProcessGroup | None = None,
    wait: bool = True,
) -> OperatorProcess:
    """`neon-checkpoints operator` against that Neon API, meta database and cluster, healthy (unless `wait`
    is false).

    namespaces: watched namespaces (`--namespace` each); none = WATCH_NAMESPACES from the environment, or all.
    settings:   more environment on top, applied last (LOG_LEVEL, NEON_OPERATION_TIMEOUT, crash injection
                such as NEON_CHECKPOINTS_CRASH_AFTER, or another NEON_API_KEY).
    args:       the command line after the script instead of `operator --namespace ... --liveness URL`
                (e.g. a Deployment's container args); it must serve liveness on `health_port`.
    environ:    the environment to start from (default: this process's).
    group:      run detached with the pid recorded there, so the group (from any process) can stop it.
    """
    port = health_port or free_port()
    health_url = f"http://127.0.0.1:{port}/healthz"
    if args is None:
        watched = [arg for ns in namespaces for arg in ("--namespace", ns)]
        args = ["operator", *watched, "--liveness", health_url]
    env = dict(os.environ if environ is None else environ)
    env.update(
        {
            "NEON_API_URL": neon_api_url,
            "NEON_API_KEY": neon_api_key,
            "META_DATABASE_URL": meta_database_url,
            "KUBECONFIG": str(kubeconfig),
            **(settings or {}),
        }
    )
    argv = [str(tools.console_script("neon-checkpoints")), *args]
    return _launch(argv, env, log_path, health_url, group, wait=wait)


def _launch(
    argv: list[str],
    env: dict[str, str],
    log_path: Path,
    health_url: str,
    group: ProcessGroup | None,
    *,
    wait: bool,
) -> OperatorProcess:
    if group is None:
        process = processes.spawn(argv, log_path=log_path, env=env)
    else:
        process = group.spawn("operator", argv, env=env, log_path=log_path)
    operator = OperatorProcess(process, log_path, health_url, argv, env, group)
    if wait:
        try:
            operator.wait_healthy()
        except LocalServerError:
            operator.stop()
            raise
    return operator
