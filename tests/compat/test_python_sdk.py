"""Neon's Python SDK (`neon-api`, from PyPI; imported as `neon_sdk`, see clients.python_sdk) through the
checkpoint flow on the emulator, and its error paths. neon-api 0.3 has no snapshot methods: those calls go
through its own authenticated `_request`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from devenv.emulator import EmulatorServer
from tests.compat.clients import python_sdk, sql

SDK = python_sdk()
NeonAPI = SDK.NeonAPI
NeonAPIError = SDK.exceptions.NeonAPIError

pytestmark = [pytest.mark.compat, pytest.mark.emulator, pytest.mark.postgres]


@pytest.fixture
def neon(emulator: EmulatorServer) -> Iterator[Any]:
    yield NeonAPI(emulator.api_key, base_url=emulator.url + "/")


def wait_operations(neon: Any, project_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for op in neon.operations(project_id).operations:
        current = op
        while current.status.value in ("scheduling", "running", "cancelling"):
            assert time.monotonic() < deadline, f"operation {op.id} still {current.status}"
            time.sleep(0.05)
            current = neon.operation(project_id, op.id).operation
        assert current.status.value == "finished", current


def request(neon: Any, method: str, path: str, **kwargs: Any) -> Any:
    """A route neon-api 0.3 has no method for, through the SDK's own request path."""
    return neon._request(method, path, **kwargs)


def test_checkpoint_flow(neon: Any) -> None:
    assert neon.me().id
    pid = neon.project_create(project={"name": "compat-python-sdk"}).project.id
    try:
        assert pid in [p.id for p in neon.projects().projects]
        main = next(b for b in neon.branches(pid).branches if b.name == "main")  # lookup by name
        uri = neon.connection_uri(pid, database_name="neondb", role_name="neondb_owner").uri
        wait_operations(neon, pid)
        sql(uri, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('before')")

        snap = request(neon, "POST", f"projects/{pid}/branches/{main.id}/snapshot", params={"name": "c1"})
        sql(uri, "INSERT INTO notes VALUES ('after')")
        wait_operations(neon, pid)
        restored = request(
            neon,
            "POST",
            f"projects/{pid}/snapshots/{snap['snapshot']['id']}/restore",
            json={"target_branch_id": main.id, "finalize_restore": True},
        )
        wait_operations(neon, pid)

        assert sql(uri, "SELECT body FROM notes ORDER BY body") == [("before",)]
        branches = {b.name: b for b in neon.branches(pid).branches}
        assert branches["main"].id == restored["branch"]["id"] and branches["main"].default
        assert branches["main (old)"].id == main.id
        assert neon.branch(pid, main.id).branch.name == "main (old)"
        neon.branch_delete(pid, main.id)
        wait_operations(neon, pid)  # neon-api does not retry Neon's 423 (a call during an operation)
        request(neon, "DELETE", f"projects/{pid}/snapshots/{snap['snapshot']['id']}")
        wait_operations(neon, pid)
        assert [b.name for b in neon.branches(pid).branches] == ["main"]
    finally:
        wait_operations(neon, pid)
        neon.project_delete(pid)
    with pytest.raises(NeonAPIError, match="not found"):
        neon.project(pid)


def test_error_paths(neon: Any, emulator: EmulatorServer) -> None:
    with pytest.raises(NeonAPIError, match="authentication"):
        NeonAPI("not-a-key", base_url=emulator.url + "/").projects()
    with pytest.raises(NeonAPIError, match="no-such-project"):
        neon.project("no-such-project-123")
    assert neon.projects(shared=True).projects == []
