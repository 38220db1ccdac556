"""Small httpx helpers for the emulator's integration tests (deliberately not neon_api: the emulator is an
independent oracle for that client)."""

from __future__ import annotations

import time
from typing import Any

import httpx

IN_PROGRESS = {"scheduling", "running", "cancelling"}


def wait_operations(
    client: httpx.Client, project_id: str, ops: list[dict[str, Any]], timeout: float = 60
) -> list[dict[str, Any]]:
    """Poll each operation until it leaves scheduling/running; returns the final operations."""
    deadline = time.monotonic() + timeout
    final = []
    for op in ops:
        while True:
            r = client.get(f"/projects/{project_id}/operations/{op['id']}")
            r.raise_for_status()
            current = r.json()["operation"]
            if current["status"] not in IN_PROGRESS:
                final.append(current)
                break
            assert time.monotonic() < deadline, f"operation {current} still in progress"
            time.sleep(0.05)
    return final


def wait_idle(client: httpx.Client, project_id: str, timeout: float = 60) -> None:
    """Until none of the project's operations is in progress."""
    deadline = time.monotonic() + timeout
    while True:
        ops = client.get(f"/projects/{project_id}/operations").json()["operations"]
        if not any(o["status"] in IN_PROGRESS for o in ops):
            return
        assert time.monotonic() < deadline, "project operations still in progress"
        time.sleep(0.05)


def call(client: httpx.Client, method: str, path: str, *, wait: bool = True, **kwargs: Any) -> httpx.Response:
    """A request that retries 423 and, when `wait`, waits for the operations it started (all must finish)."""
    deadline = time.monotonic() + 60
    while True:
        r = client.request(method, path, **kwargs)
        if r.status_code != 423 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if wait and r.is_success and r.content:
        body = r.json()
        ops = body.get("operations") or []
        if ops:
            project_id = ops[0]["project_id"]
            final = wait_operations(client, project_id, ops)
            assert all(o["status"] == "finished" for o in final), final
    return r


def create_project(client: httpx.Client, **project: Any) -> dict[str, Any]:
    r = call(client, "POST", "/projects", json={"project": project})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def measured_snapshots(api: httpx.Client, project_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The project's snapshots by name once each has its `full_size`/`diff_size` (measured after the
    snapshot's operation finished, absent until then, as on Neon)."""
    deadline = time.monotonic() + timeout
    while True:
        listed = {s["name"]: s for s in api.get(f"/projects/{project_id}/snapshots").json()["snapshots"]}
        if all("full_size" in s for s in listed.values()) or time.monotonic() > deadline:
            return listed
        time.sleep(0.05)
