"""Routes and fields Neon's clients use beyond the project's own subset (issue 18): project list items with
`active_time`, `org_id` filtering, shared projects, the current user and their organisations, backup
schedules, and a snapshot's `expires_at` cleared by PATCH null (neon-api.md §2, §6.1, §12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.emulator.calls import call, measured_snapshots

pytestmark = [pytest.mark.emulator, pytest.mark.postgres]

# Neon's ProjectListItem's required fields (SPEC25 components.schemas.ProjectListItem).
LIST_ITEM_REQUIRED = {
    "active_time", "id", "platform_id", "region_id", "name", "pg_version", "proxy_host",
    "branch_logical_size_limit", "branch_logical_size_limit_bytes", "provisioner", "store_passwords",
    "cpu_used_sec", "creation_source", "created_at", "updated_at", "owner_id",
}  # fmt: skip


def test_project_list_items_and_org_filter(api: httpx.Client, shared_project: dict[str, Any]) -> None:
    pid = shared_project["project"]["id"]
    items = {p["id"]: p for p in api.get("/projects", params={"limit": 400}).json()["projects"]}
    assert set(items[pid]) >= LIST_ITEM_REQUIRED and isinstance(items[pid]["active_time"], int)
    org = shared_project["project"]["org_id"]
    in_org = [p["id"] for p in api.get("/projects", params={"org_id": org, "limit": 400}).json()["projects"]]
    assert pid in in_org
    assert api.get("/projects", params={"org_id": "org-elsewhere-1"}).json()["projects"] == []
    shared = api.get("/projects/shared")
    assert shared.status_code == 200 and shared.json() == {"projects": []}


def test_current_user_and_organizations(api: httpx.Client) -> None:
    me = api.get("/users/me").json()
    required = {"active_seconds_limit", "id", "email", "login", "name", "last_name", "image"}
    required |= {"projects_limit", "branches_limit", "max_autoscaling_limit", "auth_accounts", "plan"}
    assert required <= set(me)
    orgs = api.get("/users/me/organizations").json()["organizations"]
    assert len(orgs) == 1
    assert {"id", "name", "handle", "plan", "created_at", "updated_at", "managed_by"} <= set(orgs[0])


def test_backup_schedule_is_kept_and_validated(api: httpx.Client, shared_project: dict[str, Any]) -> None:
    pid, bid = shared_project["project"]["id"], shared_project["branch"]["id"]
    path = f"/projects/{pid}/branches/{bid}/backup_schedule"
    assert api.get(path).json() == {"schedule": []}
    schedule = [
        {"frequency": "daily", "hour": 3, "retention_seconds": 86400},
        {"frequency": "weekly", "day": 7, "hour": 0},
    ]
    r = call(api, "PUT", path, json={"schedule": schedule})
    assert r.status_code == 200, r.text
    expected = [schedule[0], {**schedule[1], "retention_seconds": 3024000}]
    assert api.get(path).json() == {"schedule": expected}
    for bad, field in [
        ({"frequency": "hourly", "hour": 1}, "frequency"),
        ({"frequency": "daily"}, "hour"),
        ({"frequency": "monthly", "hour": 1, "day": 32}, "day"),
        ({"frequency": "daily", "hour": 1, "retention_seconds": 60}, "retention_seconds"),
    ]:
        r = call(api, "PUT", path, json={"schedule": [bad]})
        assert r.status_code == 400 and field in r.json()["message"], r.text
    assert api.get(path).json() == {"schedule": expected}  # a refused PUT changes nothing
    assert call(api, "PUT", path, json={"schedule": []}).status_code == 200
    assert api.get(path).json() == {"schedule": []}


def _moment(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_snapshot_expiry_is_moved_and_cleared(api: httpx.Client, shared_project: dict[str, Any]) -> None:
    pid, bid = shared_project["project"]["id"], shared_project["branch"]["id"]
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = call(api, "POST", f"/projects/{pid}/branches/{bid}/snapshot", params={"name": "expiring"})
    sid = r.json()["snapshot"]["id"]
    r = call(api, "PATCH", f"/projects/{pid}/snapshots/{sid}", json={"snapshot": {"expires_at": later}})
    assert _moment(r.json()["snapshot"]["expires_at"]) == _moment(later)
    r = call(api, "PATCH", f"/projects/{pid}/snapshots/{sid}", json={"snapshot": {"name": "renamed"}})
    assert _moment(r.json()["snapshot"]["expires_at"]) == _moment(later)  # omitted: unchanged
    r = call(api, "PATCH", f"/projects/{pid}/snapshots/{sid}", json={"snapshot": {"expires_at": None}})
    assert r.status_code == 200 and "expires_at" not in r.json()["snapshot"]  # null: never expires
    listed = {s["id"]: s for s in measured_snapshots(api, pid).values()}
    assert "expires_at" not in listed[sid] and listed[sid]["full_size"] > 0
    assert call(api, "DELETE", f"/projects/{pid}/snapshots/{sid}").status_code == 202
