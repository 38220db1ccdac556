"""The seed story at the data level: contacts v1 -> v2 -> v3 with snapshots, then restores as Neon does them
(neon-api.md §6.2): a finalized restore serves v1 through the SAME connection string; a preview restore of v2
gets its own URI while production stays v1."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from tests.integration.emulator.calls import call, create_project

pytestmark = [pytest.mark.emulator, pytest.mark.postgres]

V1 = [
    "CREATE TABLE contacts (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL, "
    "email text NOT NULL UNIQUE)",
    "INSERT INTO contacts (name, email) VALUES ('Ada', 'ada@example.com'), ('Grace', 'grace@example.com'), "
    "('Linus', 'linus@example.com')",
]
V2 = [
    "ALTER TABLE contacts ADD COLUMN role text, ADD COLUMN company text",
    "UPDATE contacts SET role = 'engineer', company = 'Acme'",
]
V3 = ["ALTER TABLE contacts ADD COLUMN tags text[] DEFAULT '{}'", "UPDATE contacts SET tags = '{vip}'"]


def _columns(uri: str) -> list[str]:
    with psycopg.connect(uri) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'contacts' "
            "ORDER BY ordinal_position"
        ).fetchall()
    return [r[0] for r in rows]


def _rows(uri: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(uri) as conn:
        return conn.execute("SELECT * FROM contacts ORDER BY email").fetchall()


def _run(uri: str, statements: list[str]) -> None:
    with psycopg.connect(uri) as conn:
        for statement in statements:
            conn.execute(statement)


def _snapshot(api: httpx.Client, pid: str, bid: str, name: str) -> dict[str, Any]:
    # Query parameters only; a JSON body is ignored (as on Neon).
    r = call(
        api,
        "POST",
        f"/projects/{pid}/branches/{bid}/snapshot",
        params={"name": name},
        json={"name": "ignored"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [o["action"] for o in body["operations"]] == ["create_branch", "timeline_archive"]
    snap: dict[str, Any] = body["snapshot"]
    assert snap["id"].startswith("snap-") and snap["name"] == name and snap["source_branch_id"] == bid
    return snap


def test_snapshots_and_restores_follow_neon(story_api: httpx.Client) -> None:
    api = story_api
    project = create_project(api, name="seed-story")
    pid = project["project"]["id"]
    main_id = project["branch"]["id"]
    endpoint = project["endpoints"][0]
    uri = project["connection_uris"][0]["connection_uri"]

    _run(uri, V1)
    v1_columns, v1_rows = _columns(uri), _rows(uri)
    assert v1_columns == ["id", "name", "email"] and len(v1_rows) == 3
    snap1 = _snapshot(api, pid, main_id, "v1")
    _run(uri, V2)
    v2_columns, v2_rows = _columns(uri), _rows(uri)
    snap2 = _snapshot(api, pid, main_id, "v2")
    _run(uri, V3)
    assert _columns(uri) == ["id", "name", "email", "role", "company", "tags"]
    _snapshot(api, pid, main_id, "v3")
    assert (
        call(api, "POST", f"/projects/{pid}/branches/{main_id}/snapshot", params={"name": "v3"}).status_code
        == 409
    )
    listed = api.get(f"/projects/{pid}/snapshots").json()["snapshots"]
    assert sorted(s["name"] for s in listed) == ["v1", "v2", "v3"]

    # Finalized restore of v1 onto main.
    r = call(
        api,
        "POST",
        f"/projects/{pid}/snapshots/{snap1['id']}/restore",
        json={"target_branch_id": main_id, "finalize_restore": True, "name": "thrown-away"},
    )
    assert r.status_code == 200, r.text
    restored = r.json()
    new_main = restored["branch"]
    assert new_main["id"] != main_id and new_main["id"].startswith("br-")
    assert new_main["name"] == "main" and new_main["restored_from"] == snap1["id"]
    assert new_main["restored_as"] == main_id
    assert [e["id"] for e in restored["endpoints"]] == [endpoint["id"]]
    actions = [o["action"] for o in restored["operations"]]
    assert actions[:2] == ["timeline_unarchive", "create_branch"] and "suspend_compute" in actions

    assert _columns(uri) == v1_columns  # the SAME connection string now serves v1
    assert _rows(uri) == v1_rows
    branches = {b["id"]: b for b in api.get(f"/projects/{pid}/branches").json()["branches"]}
    assert branches[main_id]["name"] == "main (old)" and branches[main_id]["default"] is False
    assert branches[new_main["id"]]["default"] is True
    assert branches[new_main["id"]]["restore_status"] == "finalized"
    ep_now = api.get(f"/projects/{pid}/endpoints/{endpoint['id']}").json()["endpoint"]
    assert ep_now["branch_id"] == new_main["id"] and ep_now["host"] == endpoint["host"]
    # Earlier snapshots stay attached to the replaced branch.
    assert {s["source_branch_id"] for s in api.get(f"/projects/{pid}/snapshots").json()["snapshots"]} == {
        main_id
    }

    # Preview restore of v2: its own branch and URI; production stays v1.
    r = call(
        api,
        "POST",
        f"/projects/{pid}/snapshots/{snap2['id']}/restore",
        json={"name": "preview-v2", "target_branch_id": new_main["id"], "finalize_restore": False},
    )
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["branch"]["name"] == "preview-v2" and preview["branch"]["restore_status"] == "restored"
    assert preview["endpoints"][0]["id"] != endpoint["id"]
    preview_uri = api.get(
        f"/projects/{pid}/connection_uri",
        params={"branch_id": preview["branch"]["id"], "database_name": "neondb", "role_name": "neondb_owner"},
    ).json()["uri"]
    assert preview_uri != uri
    assert _columns(preview_uri) == v2_columns and _rows(preview_uri) == v2_rows
    assert _columns(uri) == v1_columns and _rows(uri) == v1_rows

    # Finalizing the preview later: production's endpoint serves v2, the replaced branch gets the given name.
    r = call(
        api,
        "POST",
        f"/projects/{pid}/branches/{preview['branch']['id']}/finalize_restore",
        json={"name": "main-before-v2"},
    )
    assert r.status_code == 200, r.text
    assert _columns(uri) == v2_columns and _rows(uri) == v2_rows
    names = {b["id"]: b["name"] for b in api.get(f"/projects/{pid}/branches").json()["branches"]}
    assert names[preview["branch"]["id"]] == "main" and names[new_main["id"]] == "main-before-v2"

    # Cleaning up the replaced branches is allowed (they are no longer the project's root or default).
    assert call(api, "DELETE", f"/projects/{pid}/branches/{main_id}").status_code == 200
    assert call(api, "DELETE", f"/projects/{pid}/branches/{new_main['id']}").status_code == 200


def test_restore_targets_the_snapshot_source_by_default(api: httpx.Client, project: dict[str, Any]) -> None:
    pid, main_id = project["project"]["id"], project["branch"]["id"]
    uri = project["connection_uris"][0]["connection_uri"]
    _run(uri, ["CREATE TABLE marker (v int)", "INSERT INTO marker VALUES (1)"])
    snap = _snapshot(api, pid, main_id, "one")
    _run(uri, ["UPDATE marker SET v = 2"])
    r = call(api, "POST", f"/projects/{pid}/snapshots/{snap['id']}/restore", json={"finalize_restore": True})
    assert r.status_code == 200, r.text
    assert r.json()["branch"]["restored_as"] == main_id
    with psycopg.connect(uri) as conn:
        assert conn.execute("SELECT v FROM marker").fetchone() == (1,)
    # A second restore without target_branch_id goes to the snapshot's source, now "main (old)" (Neon's trap).
    r = call(api, "POST", f"/projects/{pid}/snapshots/{snap['id']}/restore", json={"finalize_restore": True})
    assert r.json()["branch"]["restored_as"] == main_id
    names = sorted(b["name"] for b in api.get(f"/projects/{pid}/branches").json()["branches"])
    assert names == ["main", "main (old)", "main (old) (old)"]


def test_snapshot_patch_delete_and_refusals(api: httpx.Client, project: dict[str, Any]) -> None:
    pid, main_id = project["project"]["id"], project["branch"]["id"]
    snap = _snapshot(api, pid, main_id, "temp")
    r = call(
        api,
        "PATCH",
        f"/projects/{pid}/snapshots/{snap['id']}",
        json={"snapshot": {"name": "renamed", "expires_at": "2099-01-01T00:00:00Z"}},
    )
    assert r.status_code == 200 and r.json()["snapshot"]["name"] == "renamed"
    assert r.json()["snapshot"]["expires_at"].startswith("2099-01-01T00:00:00")
    child = call(api, "POST", f"/projects/{pid}/branches", json={"branch": {"name": "child"}}).json()[
        "branch"
    ]
    r = call(api, "POST", f"/projects/{pid}/branches/{child['id']}/snapshot")
    assert r.status_code == 400 and "root" in r.json()["message"]
    r = call(
        api,
        "POST",
        f"/projects/{pid}/branches/{main_id}/snapshot",
        params={"expires_at": "2000-01-01T00:00:00Z"},
    )
    assert r.status_code == 400 and "expires_at" in r.json()["message"]
    r = call(api, "DELETE", f"/projects/{pid}/snapshots/{snap['id']}")
    assert r.status_code == 202 and [o["action"] for o in r.json()["operations"]] == ["delete_timeline"]
    assert api.get(f"/projects/{pid}/snapshots").json()["snapshots"] == []
    assert call(api, "POST", f"/projects/{pid}/snapshots/{snap['id']}/restore", json={}).status_code == 404
