"""`neon-checkpoints ui` as a local process for tests: started on a free loopback port with a kubeconfig and
the meta database URL, ready once it printed its URL."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

from devenv import tools
from devenv.processes import LocalServerError, spawn, terminate

_URL = re.compile(r"serving (http://\S+/)")


@dataclass
class UiProcess:
    process: Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        terminate(self.process)
        return self.process.returncode


def start_ui(
    *,
    kubeconfig: Path,
    meta_database_url: str,
    namespace: str,
    log_path: Path,
    args: Sequence[str] = (),
    timeout: float = 30.0,
) -> UiProcess:
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "META_DATABASE_URL": meta_database_url,
        # This checkout's code, wherever the console script was installed from.
        "PYTHONPATH": os.pathsep.join(
            str(tools.REPO_ROOT / p) for p in ("operator/src", "emulator/src", ".")
        ),
    }
    argv = [sys.executable, "-m", "neon_checkpoints", "ui", "--namespace", namespace, "--port", "0", *args]
    process = spawn(argv, log_path=log_path, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _URL.search(log_path.read_text(errors="replace"))
        if found:
            return UiProcess(process, found.group(1), log_path)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    terminate(process)
    raise LocalServerError(f"neon-checkpoints ui did not start:\n{log_path.read_text(errors='replace')}")


@contextlib.contextmanager
def running_ui(
    *, kubeconfig: Path, meta_database_url: str, namespace: str, log_path: Path, args: Sequence[str] = ()
) -> Iterator[UiProcess]:
    ui = start_ui(
        kubeconfig=kubeconfig,
        meta_database_url=meta_database_url,
        namespace=namespace,
        log_path=log_path,
        args=args,
    )
    try:
        yield ui
    finally:
        ui.stop()
