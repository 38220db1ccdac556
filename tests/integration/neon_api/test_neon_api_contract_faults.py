"""neon_api against the emulator's fault injection: errors, retries and failing operations over real HTTP."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from neon_api import AsyncNeonClient, NeonClient, RetryPolicy, errors
from neon_api.models import CreatedProject

pytestmark = pytest.mark.emulator

# Generous: the emulator runs real postgres processes on a busy 2-core machine.
WAIT = 120.0


def test_wrong_key_is_unauthorized_and_never_echoed(emulator: Any, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    bad_key = "napi_wrong_key_that_must_not_leak"
    with NeonClient(emulator.url, bad_key) as client, pytest.raises(errors.Unauthorized) as caught:
        client.list_projects()
    assert caught.value.status == 401
    assert bad_key not in str(caught.value) and bad_key not in repr(caught.value)
    assert bad_key not in caplog.text and emulator.api_key not in caplog.text


def test_missing_project_is_not_found(neon: NeonClient):
    with pytest.raises(errors.NotFound) as caught:
        neon.get_project("no-such-project-1234")
    assert caught.value.message


def test_injected_locks_are_retried(neon: NeonClient, admin: httpx.Client, project: CreatedProject):
    pid, main = project.project.id, project.branch
    rule = {"method": "POST", "path": "/api/v2/projects/*/branches/*/snapshot", "status": 423, "times": 2}
    admin.put("/faults", json={"rules": [rule]}).raise_for_status()
    admin.post("/reset-requests").raise_for_status()

    taken = neon.create_snapshot(pid, main.id, name="after-locks")
    neon.wait_for_operations(pid, taken.operations, timeout=WAIT)

    counted = admin.get("/requests").json()["requests"]
    assert counted[f"POST /api/v2/projects/{pid}/branches/{main.id}/snapshot"] == 3
    assert [s.name for s in neon.list_snapshots(pid)].count("after-locks") == 1


def test_retry_after_from_the_emulator_is_honoured(
    emulator: Any, admin: httpx.Client, project: CreatedProject
):
    rule = {"method": "GET", "path": "/api/v2/projects/*", "status": 429, "times": 1, "retry_after": 0.5}
    admin.put("/faults", json={"rules": [rule]}).raise_for_status()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    with NeonClient(emulator.url, emulator.api_key, sleep=sleep) as client:
        assert client.get_project(project.project.id).id == project.project.id
    assert slept == [0.5]


def test_locks_past_the_budget_surface_as_locked(emulator: Any, admin: httpx.Client, project: CreatedProject):
    rule = {"method": "PATCH", "path": "/api/v2/projects/*", "status": 423}
    admin.put("/faults", json={"rules": [rule]}).raise_for_status()
    with (
        NeonClient(emulator.url, emulator.api_key, retry=RetryPolicy(max_elapsed=0.5)) as client,
        pytest.raises(errors.Locked, match="conflicting operations"),
    ):
        client.update_project(project.project.id, name="never")


def test_failing_operation_raises_operation_failed(
    neon: NeonClient, admin: httpx.Client, project: CreatedProject
):
    admin.put("/faults", json={"fail_operations": {"create_branch": 1.0}}).raise_for_status()
    created = neon.create_branch(project.project.id, name="doomed")
    with pytest.raises(errors.OperationFailed) as caught:
        neon.wait_for_operations(project.project.id, created.operations, timeout=WAIT)
    assert caught.value.operation.action == "create_branch"
    assert caught.value.operation.status == "error"


async def test_async_client_snapshots_and_waits(async_neon: AsyncNeonClient, project: CreatedProject):
    pid, main = project.project.id, project.branch
    first = await async_neon.create_snapshot(pid, main.id, name="async-1")
    branch = await async_neon.find_branch(pid, "main")
    assert branch is not None and branch.id == main.id
    # The project serialises operations: the second snapshot waits out the 423s by retrying.
    second = await async_neon.create_snapshot(pid, main.id, name="async-2")
    done = await async_neon.wait_for_operations(pid, [*first.operations, *second.operations], timeout=WAIT)
    assert all(op.succeeded for op in done)
    names = {s.name for s in await async_neon.list_snapshots(pid)}
    assert {"async-1", "async-2"} <= names
    ops = await asyncio.gather(
        async_neon.get_operation(pid, first.operations[0].id), async_neon.list_operations(pid)
    )
    assert ops[0].status == "finished"
