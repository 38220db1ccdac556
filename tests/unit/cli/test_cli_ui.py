"""`neon-checkpoints ui` on the command line: loopback unless --address says otherwise (with a warning),
a clear error without a meta database, and the demo's --keep instructions name it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from devenv.demo import DemoResult, keep_instructions
from devenv.environment import LocalEnvironment
from devenv.tools import REPO_ROOT

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: apps}}]
current-context: x
"""


def ui(tmp_path: Path, *args: str, meta: bool = True) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "kubeconfig"
    config.write_text(KUBECONFIG)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": os.pathsep.join(
        str(REPO_ROOT / p) for p in ("operator/src", "emulator/src", "."))}  # fmt: skip
    if meta:
        env["META_DATABASE_URL"] = "postgresql://nobody:s3cret@127.0.0.1:1/meta"
    return subprocess.run(
        [sys.executable, "-m", "neon_checkpoints", "ui", "--kubeconfig", str(config), *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_another_address_must_be_asked_for_and_is_warned_about(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is nobody's address here: the warning comes first, then the bind fails.
    result = ui(tmp_path, "--address", "192.0.2.1", "--port", "0")
    assert result.returncode == 1
    assert "warning: serving on 192.0.2.1, not loopback" in result.stderr
    assert "cannot listen on 192.0.2.1:0" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout


def test_loopback_is_not_warned_about(tmp_path: Path) -> None:
    with socket.socket() as taken:  # a port already in use, so that the command ends
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = ui(tmp_path, "--address", "127.0.0.1", "--port", str(port))
    assert "warning" not in result.stderr
    assert result.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_without_a_meta_database_it_says_so(tmp_path: Path) -> None:
    result = ui(tmp_path, meta=False)
    assert result.returncode == 2
    assert "no meta database: pass --meta-database-url or set META_DATABASE_URL" in result.stderr


def test_the_kept_demo_prints_the_ui_command(tmp_path: Path) -> None:
    text = keep_instructions(LocalEnvironment(tmp_path), DemoResult(project_id="p-1"))
    assert "neon-checkpoints ui --namespace demo" in text
