"""`neonctl` (Neon's CLI, from npm) through the whole checkpoint flow on the emulator, and its error paths."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.compat.clients import Neonctl, sql

pytestmark = [pytest.mark.compat, pytest.mark.emulator, pytest.mark.postgres]

IN_PROGRESS = {"scheduling", "running", "cancelling"}


def wait_operations(neonctl: Neonctl, project_id: str, timeout: float = 60) -> list[dict[str, Any]]:
    """`neonctl operations list` until every operation of the project is terminal; all must have finished."""
    deadline = time.monotonic() + timeout
    while True:
        ops: list[dict[str, Any]] = neonctl.json("operations", "list", "--project-id", project_id)
        if not any(op["status"] in IN_PROGRESS for op in ops):
            assert all(op["status"] == "finished" for op in ops), ops
            return ops
        assert time.monotonic() < deadline, f"operations still in progress: {ops}"
        time.sleep(0.1)


def test_checkpoint_flow(neonctl: Neonctl) -> None:
    me = neonctl.json("me")
    assert me["id"] and me["email"]
    project = neonctl.json("projects", "create", "--name", "compat-neonctl")["project"]
    pid = project["id"]
    try:
        assert pid in [p["id"] for p in neonctl.json("projects", "list")["projects"]]
        main = neonctl.json("branches", "get", "main", "--project-id", pid)  # lookup by name
        assert main["name"] == "main" and main["default"] is True
        uri = neonctl.text("connection-string", "main", "--project-id", pid)
        assert uri.startswith("postgresql://") and "sslmode=require" in uri  # neonctl's default: TLS
        wait_operations(neonctl, pid)
        sql(uri, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('before')")

        snap = neonctl.json("snapshots", "create", "--project-id", pid, "-b", "main", "--name", "ckpt-1")
        assert snap["name"] == "ckpt-1" and snap["source_branch_id"] == main["id"]
        sql(uri, "INSERT INTO notes VALUES ('after')")  # the change the restore undoes
        assert [s["id"] for s in neonctl.json("snapshots", "list", "--project-id", pid)] == [snap["id"]]
        wait_operations(neonctl, pid)

        restored = neonctl.json(
            "snapshots", "restore", "ckpt-1", "--project-id", pid, "--target-branch", "main"
        )["restored_branch"]
        assert restored["restored_from"] == snap["id"] and restored["restored_as"] == main["id"]
        wait_operations(neonctl, pid)
        neonctl.json("snapshots", "finalize", restored["id"], "--project-id", pid)
        wait_operations(neonctl, pid)

        # The same connection string now reaches the restored data.
        assert sql(uri, "SELECT body FROM notes ORDER BY body") == [("before",)]
        branches = {b["name"]: b for b in neonctl.json("branches", "list", "--project-id", pid)}
        assert branches["main"]["id"] == restored["id"] and branches["main"]["default"] is True
        old = branches["main (old)"]
        assert old["id"] == main["id"]
        assert neonctl.text("connection-string", "main", "--project-id", pid) == uri

        neonctl.json("branches", "delete", "main (old)", "--project-id", pid)
        neonctl.json("snapshots", "delete", "ckpt-1", "--project-id", pid)
        wait_operations(neonctl, pid)
        assert [b["name"] for b in neonctl.json("branches", "list", "--project-id", pid)] == ["main"]
        assert neonctl.json("snapshots", "list", "--project-id", pid) == []
    finally:
        neonctl.run("projects", "delete", pid)
    gone = neonctl.run("projects", "get", pid)
    assert gone.returncode != 0 and "not found" in gone.stderr.lower(), gone.stderr


def test_error_paths(neonctl: Neonctl) -> None:
    refused = Neonctl(neonctl.server, neonctl.config_dir, api_key="not-a-key").run("projects", "list")
    assert refused.returncode != 0 and "rejected the API key" in refused.stderr, refused.stderr

    missing = neonctl.run("projects", "get", "no-such-project-123")
    assert missing.returncode != 0 and "not found" in missing.stderr.lower(), missing.stderr

    pid = neonctl.json("projects", "create", "--name", "compat-neonctl-errors")["project"]["id"]
    try:
        nobranch = neonctl.run("branches", "get", "no-such-branch", "--project-id", pid)
        assert nobranch.returncode != 0 and "no-such-branch" in nobranch.stderr, nobranch.stderr
        wait_operations(neonctl, pid)
        default = neonctl.run("branches", "delete", "main", "--project-id", pid)
        assert default.returncode != 0 and "default branch" in default.stderr, default.stderr
        nosnap = neonctl.run("snapshots", "restore", "no-such-snapshot", "--project-id", pid)
        assert nosnap.returncode != 0 and "no-such-snapshot" in nosnap.stderr, nosnap.stderr
        taken = neonctl.run("branches", "create", "--name", "main", "--project-id", pid)
        assert taken.returncode != 0 and "already exists" in taken.stderr, taken.stderr
    finally:
        neonctl.run("projects", "delete", pid)
