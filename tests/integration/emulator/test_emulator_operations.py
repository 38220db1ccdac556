"""Operations are real and asynchronous, serialized per project (423 while one runs), and fault injection."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from devenv.emulator import EmulatorServer
from tests.integration.emulator.calls import IN_PROGRESS, call, wait_idle, wait_operations

pytestmark = [pytest.mark.emulator, pytest.mark.postgres]

LOCKED = "project already has running conflicting operations, scheduling of new ones is prohibited"


def test_operations_move_through_states_and_lock_the_project(
    api: httpx.Client, emulator: EmulatorServer, project: dict[str, Any]
) -> None:
    pid = project["project"]["id"]
    with emulator.admin() as admin:
        admin.put("/faults", json={"operation_delay": 1.0}).raise_for_status()
    r = api.post(f"/projects/{pid}/branches", json={"branch": {"name": "slow"}})
    assert r.status_code == 201
    op = r.json()["operations"][0]
    assert op["status"] == "scheduling" and r.json()["branch"]["current_state"] == "init"
    seen = {op["status"]}
    # While it runs: mutations get Neon's 423, reads work.
    locked = api.post(f"/projects/{pid}/branches", json={"branch": {"name": "other"}})
    assert locked.status_code == 423 and locked.json() == {"code": "", "message": LOCKED}
    assert api.patch(f"/projects/{pid}", json={"project": {"name": "x"}}).status_code == 423
    assert api.get(f"/projects/{pid}/branches").status_code == 200
    deadline = time.monotonic() + 30
    while (
        status := api.get(f"/projects/{pid}/operations/{op['id']}").json()["operation"]["status"]
    ) in IN_PROGRESS:
        seen.add(status)
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status == "finished" and "running" in seen
    final = api.get(f"/projects/{pid}/operations/{op['id']}").json()["operation"]
    assert final["total_duration_ms"] >= 1000
    branch = api.get(f"/projects/{pid}/branches/{r.json()['branch']['id']}").json()["branch"]
    assert branch["current_state"] == "ready"
    assert api.post(f"/projects/{pid}/branches", json={"branch": {"name": "other"}}).status_code == 201


def test_operations_list_newest_first_with_a_timestamp_cursor(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    pid = project["project"]["id"]
    for name in ("a", "b"):
        call(api, "POST", f"/projects/{pid}/branches", json={"branch": {"name": name}})
    everything = api.get(f"/projects/{pid}/operations").json()["operations"]
    assert len(everything) == 4  # create_timeline, start_compute, create_branch x2
    created = [o["created_at"] for o in everything]
    assert created == sorted(created, reverse=True)
    seen, cursor = [], None
    while True:
        page = api.get(
            f"/projects/{pid}/operations", params={"limit": 3} | ({"cursor": cursor} if cursor else {})
        ).json()
        if not page["operations"]:
            break
        seen += [o["id"] for o in page["operations"]]
        cursor = page["pagination"]["cursor"]
    assert seen == [o["id"] for o in everything]


def test_injected_operation_failure_ends_in_error_and_unlocks(
    api: httpx.Client, emulator: EmulatorServer, project: dict[str, Any]
) -> None:
    pid = project["project"]["id"]
    with emulator.admin() as admin:
        admin.put("/faults", json={"fail_operations": {"create_branch": 1.0}}).raise_for_status()
    r = api.post(
        f"/projects/{pid}/branches",
        json={"branch": {"name": "doomed"}, "endpoints": [{"type": "read_write"}]},
    )
    assert r.status_code == 201
    final = wait_operations(api, pid, r.json()["operations"])
    assert [(o["action"], o["status"]) for o in final] == [
        ("create_branch", "error"),
        ("start_compute", "cancelled"),
    ]
    assert "create_branch" in final[0]["error"]
    assert api.get(f"/projects/{pid}/branches/{r.json()['branch']['id']}").status_code == 404
    with emulator.admin() as admin:
        admin.post("/reset-faults").raise_for_status()
    assert (
        call(api, "POST", f"/projects/{pid}/branches", json={"branch": {"name": "doomed"}}).status_code == 201
    )


def test_route_faults_are_seeded_counted_and_carry_neon_bodies(
    api: httpx.Client, emulator: EmulatorServer, shared_project: dict[str, Any]
) -> None:
    pid = shared_project["project"]["id"]
    path = f"/api/v2/projects/{pid}/branches"

    def statuses(seed: int) -> list[int]:
        with emulator.admin() as admin:
            rule = {"method": "GET", "path": "/api/v2/projects/*/branches", "status": 503, "rate": 0.5}
            admin.put("/faults", json={"seed": seed, "rules": [rule]}).raise_for_status()
        return [api.get(f"/projects/{pid}/branches").status_code for _ in range(12)]

    first, again = statuses(11), statuses(11)
    assert first == again and set(first) == {200, 503}
    with emulator.admin() as admin:
        admin.put(
            "/faults",
            json={
                "rules": [
                    {
                        "method": "POST",
                        "path": "/api/v2/projects/*/branches",
                        "status": 429,
                        "times": 2,
                        "retry_after": 1,
                    },
                    {"path": "/api/v2/projects/*/snapshots", "status": 423},
                ]
            },
        ).raise_for_status()
        admin.post("/reset-requests").raise_for_status()
        r = api.post(f"/projects/{pid}/branches", json={})
        assert r.status_code == 429 and r.headers["Retry-After"] == "1" and r.json()["code"] == ""
        assert api.post(f"/projects/{pid}/branches", json={}).status_code == 429
        assert api.get(f"/projects/{pid}/snapshots").json() == {"code": "", "message": LOCKED}
        ok = call(api, "POST", f"/projects/{pid}/branches", json={})
        assert ok.status_code == 201  # `times` ran out
        counts = admin.get("/requests").json()
        assert counts["requests"][f"POST {path}"] == 3
        assert counts["routes"]["POST /api/v2/projects/{project_id}/branches"] == 3
        bad = admin.put("/faults", json={"rules": [{"path": "/x", "rate": 2}]})
        assert bad.status_code == 400 and "rules[0].rate" in bad.json()["message"]
    wait_idle(api, pid)


def test_a_snapshot_over_the_projects_cap_is_refused_in_neons_error_shape(
    api: httpx.Client, emulator: EmulatorServer, project: dict[str, Any]
) -> None:
    pid, bid = project["project"]["id"], project["branch"]["id"]
    with emulator.admin() as admin:
        admin.put("/faults", json={"snapshot_cap": 2}).raise_for_status()
    try:
        taken = []
        for name in ("one", "two"):
            r = api.post(f"/projects/{pid}/branches/{bid}/snapshot", params={"name": name})
            assert r.status_code == 200, r.text
            taken.append(r.json()["snapshot"]["id"])
            wait_operations(api, pid, r.json()["operations"])
        refused = api.post(f"/projects/{pid}/branches/{bid}/snapshot", params={"name": "three"})
        assert refused.status_code == 422
        assert set(refused.json()) >= {"code", "message"} and "limit" in refused.json()["message"]
        # Deleting one makes room again.
        deleted = api.delete(f"/projects/{pid}/snapshots/{taken[0]}")
        wait_operations(api, pid, deleted.json()["operations"])
        again = api.post(f"/projects/{pid}/branches/{bid}/snapshot", params={"name": "three"})
        assert again.status_code == 200, again.text
    finally:
        with emulator.admin() as admin:
            admin.post("/reset-faults").raise_for_status()
