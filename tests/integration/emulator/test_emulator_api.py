"""Projects, branches, endpoints, databases, roles and connection URIs over real HTTP, with real postgres."""

from __future__ import annotations

import time
from typing import Any

import httpx
import psycopg
import pytest

from tests.integration.emulator.calls import call

pytestmark = [pytest.mark.emulator, pytest.mark.postgres]


def _uri(api: httpx.Client, pid: str, **params: str) -> str:
    r = api.get(f"/projects/{pid}/connection_uri", params=params)
    assert r.status_code == 200, r.text
    uri: str = r.json()["uri"]
    return uri


def test_created_project_has_neon_defaults_and_a_working_connection_uri(project: dict[str, Any]) -> None:
    assert project["branch"]["name"] == "main" and project["branch"]["default"] is True
    assert project["branch"]["id"].startswith("br-")
    assert project["endpoints"][0]["id"].startswith("ep-") and project["endpoints"][0]["type"] == "read_write"
    assert [d["name"] for d in project["databases"]] == ["neondb"]
    assert [(r["name"], bool(r["password"])) for r in project["roles"]] == [("neondb_owner", True)]
    assert [o["action"] for o in project["operations"]] == ["create_timeline", "start_compute"]
    uri = project["connection_uris"][0]["connection_uri"]
    with psycopg.connect(uri) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            "neondb_owner",
            "neondb",
        )
        conn.execute("CREATE TABLE t (x int)")  # the owner can create in its database


def test_project_branch_names_from_the_create_body(api: httpx.Client) -> None:
    body = {
        "project": {
            "name": "named",
            "branch": {"name": "production", "database_name": "app", "role_name": "app_user"},
        }
    }
    r = call(api, "POST", "/projects", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    pid = created["project"]["id"]
    try:
        assert created["branch"]["name"] == "production"
        uri = created["connection_uris"][0]["connection_uri"]
        with psycopg.connect(uri) as conn:
            assert conn.execute("SELECT current_user, current_database()").fetchone() == ("app_user", "app")
        listed = api.get("/projects", params={"search": "named", "limit": 400}).json()["projects"]
        assert pid in [p["id"] for p in listed]
        assert api.get(f"/projects/{pid}").json()["project"]["name"] == "named"
        r = call(api, "PATCH", f"/projects/{pid}", json={"project": {"name": "renamed"}})
        assert r.json()["project"]["name"] == "renamed"
    finally:
        assert call(api, "DELETE", f"/projects/{pid}", wait=False).status_code == 200
    assert api.get(f"/projects/{pid}").status_code == 404
    deadline = time.monotonic() + 30
    while True:  # its compute is stopped in the background
        try:
            psycopg.connect(uri, connect_timeout=3).close()
        except psycopg.OperationalError:
            break
        assert time.monotonic() < deadline, "the deleted project's postgres still serves"
        time.sleep(0.1)


def test_branch_lifecycle_with_real_data(api: httpx.Client, project: dict[str, Any]) -> None:
    pid = project["project"]["id"]
    main_uri = project["connection_uris"][0]["connection_uri"]
    with psycopg.connect(main_uri) as conn:
        conn.execute("CREATE TABLE items (name text)")
        conn.execute("INSERT INTO items VALUES ('from main')")
    r = call(
        api,
        "POST",
        f"/projects/{pid}/branches",
        json={"branch": {"name": "dev"}, "endpoints": [{"type": "read_write"}]},
    )
    assert r.status_code == 201, r.text
    dev = r.json()
    assert dev["branch"]["parent_id"] == project["branch"]["id"]
    assert [o["action"] for o in dev["operations"]] == ["create_branch", "start_compute"]
    dev_uri = _uri(api, pid, branch_id=dev["branch"]["id"], database_name="neondb", role_name="neondb_owner")
    assert dev_uri != main_uri
    with psycopg.connect(dev_uri) as conn:
        assert conn.execute("SELECT name FROM items").fetchall() == [("from main",)]
        conn.execute("INSERT INTO items VALUES ('only dev')")
    with psycopg.connect(main_uri) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (1,)

    got = api.get(f"/projects/{pid}/branches/{dev['branch']['id']}").json()["branch"]
    assert got["current_state"] == "ready" and "pending_state" not in got
    r = call(
        api, "PATCH", f"/projects/{pid}/branches/{dev['branch']['id']}", json={"branch": {"name": "dev2"}}
    )
    assert r.json()["branch"]["name"] == "dev2"
    assert (
        call(
            api, "PATCH", f"/projects/{pid}/branches/{dev['branch']['id']}", json={"branch": {"name": "main"}}
        ).status_code
        == 409
    )
    r = call(api, "DELETE", f"/projects/{pid}/branches/{dev['branch']['id']}")
    assert r.status_code == 200 and [o["action"] for o in r.json()["operations"]] == [
        "suspend_compute",
        "delete_timeline",
    ]
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dev_uri, connect_timeout=3)
    assert call(api, "DELETE", f"/projects/{pid}/branches/{dev['branch']['id']}").status_code == 204
    assert api.get(f"/projects/{pid}/branches/{dev['branch']['id']}").status_code == 404


def test_branch_list_search_and_cursor_pagination(api: httpx.Client, project: dict[str, Any]) -> None:
    pid = project["project"]["id"]
    for name in ("feature-a", "feature-b", "feature-c"):
        assert (
            call(api, "POST", f"/projects/{pid}/branches", json={"branch": {"name": name}}).status_code == 201
        )
    found = api.get(f"/projects/{pid}/branches", params={"search": "feature"}).json()
    assert sorted(b["name"] for b in found["branches"]) == ["feature-a", "feature-b", "feature-c"]
    by_id = api.get(f"/projects/{pid}/branches", params={"search": project["branch"]["id"][3:12]}).json()
    assert [b["name"] for b in by_id["branches"]] == ["main"]

    names, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, "sort_by": "name", "sort_order": "asc"} | ({"cursor": cursor} if cursor else {})
        page = api.get(f"/projects/{pid}/branches", params=params).json()
        names += [b["name"] for b in page["branches"]]
        pages += 1
        cursor = page["pagination"].get("next")
        if not cursor:
            break
    assert names == ["feature-a", "feature-b", "feature-c", "main"] and pages == 2
    assert api.get(f"/projects/{pid}/branches/count", params={"search": "feature"}).json() == {"count": 3}
    bad = api.get(f"/projects/{pid}/branches", params={"cursor": "garbage!"})
    assert bad.status_code == 400 and "cursor" in bad.json()["message"]


def test_default_root_and_parent_branches_cannot_be_deleted(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    pid, main_id = project["project"]["id"], project["branch"]["id"]
    r = call(api, "DELETE", f"/projects/{pid}/branches/{main_id}")
    assert r.status_code == 422 and r.json()["code"] == "" and "default" in r.json()["message"]
    child = call(api, "POST", f"/projects/{pid}/branches", json={"branch": {"name": "child"}}).json()[
        "branch"
    ]
    grandchild = call(
        api,
        "POST",
        f"/projects/{pid}/branches",
        json={"branch": {"name": "grandchild", "parent_id": child["id"]}},
    ).json()["branch"]
    r = call(api, "DELETE", f"/projects/{pid}/branches/{child['id']}")
    assert r.status_code == 422 and "child" in r.json()["message"]
    # The root keeps its protection after another branch becomes the default.
    r = call(api, "POST", f"/projects/{pid}/branches/{grandchild['id']}/set_as_default")
    assert r.status_code == 200 and r.json()["branch"]["default"] is True
    assert api.get(f"/projects/{pid}/branches/{main_id}").json()["branch"]["default"] is False
    r = call(api, "DELETE", f"/projects/{pid}/branches/{main_id}")
    assert r.status_code == 422 and "root" in r.json()["message"]


def test_roles_and_databases_exist_in_postgres(api: httpx.Client, project: dict[str, Any]) -> None:
    pid, bid = project["project"]["id"], project["branch"]["id"]
    r = call(api, "POST", f"/projects/{pid}/branches/{bid}/roles", json={"role": {"name": "alice"}})
    assert r.status_code == 201, r.text
    password = r.json()["role"]["password"]
    assert [o["action"] for o in r.json()["operations"]] == ["apply_config"]
    r = call(
        api,
        "POST",
        f"/projects/{pid}/branches/{bid}/databases",
        json={"database": {"name": "shop", "owner_name": "alice"}},
    )
    assert r.status_code == 201, r.text
    uri = _uri(api, pid, database_name="shop", role_name="alice")
    assert f"alice:{password}@" in uri
    with psycopg.connect(uri) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("alice", "shop")
        assert conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'"
        ).fetchone() == ("alice",)
    assert (
        call(
            api, "POST", f"/projects/{pid}/branches/{bid}/roles", json={"role": {"name": "alice"}}
        ).status_code
        == 409
    )
    assert (
        call(
            api,
            "POST",
            f"/projects/{pid}/branches/{bid}/databases",
            json={"database": {"name": "shop", "owner_name": "alice"}},
        ).status_code
        == 409
    )
    revealed = api.get(f"/projects/{pid}/branches/{bid}/roles/alice/reveal_password").json()
    assert revealed == {"password": password}
    r = call(api, "POST", f"/projects/{pid}/branches/{bid}/roles/alice/reset_password")
    new_password = r.json()["role"]["password"]
    assert new_password != password
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(uri, connect_timeout=3)
    with psycopg.connect(uri.replace(password, new_password)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    listed = api.get(f"/projects/{pid}/branches/{bid}/databases").json()["databases"]
    assert sorted(d["name"] for d in listed) == ["neondb", "shop"]
    assert (
        api.get(f"/projects/{pid}/branches/{bid}/databases/shop").json()["database"]["owner_name"] == "alice"
    )
    assert call(api, "DELETE", f"/projects/{pid}/branches/{bid}/roles/alice").status_code == 422  # owns shop
    assert call(api, "DELETE", f"/projects/{pid}/branches/{bid}/databases/shop").status_code == 200
    assert call(api, "DELETE", f"/projects/{pid}/branches/{bid}/databases/shop").status_code == 204
    assert call(api, "DELETE", f"/projects/{pid}/branches/{bid}/roles/alice").status_code == 200
    assert call(api, "DELETE", f"/projects/{pid}/branches/{bid}/roles/alice").status_code == 204
    with psycopg.connect(project["connection_uris"][0]["connection_uri"]) as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'alice'").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'shop'").fetchone() == (0,)


def test_endpoint_suspend_start_restart_and_create(api: httpx.Client, project: dict[str, Any]) -> None:
    pid, ep = project["project"]["id"], project["endpoints"][0]
    uri = project["connection_uris"][0]["connection_uri"]
    r = call(api, "POST", f"/projects/{pid}/endpoints/{ep['id']}/suspend")
    assert r.status_code == 200 and [o["action"] for o in r.json()["operations"]] == ["suspend_compute"]
    assert api.get(f"/projects/{pid}/endpoints/{ep['id']}").json()["endpoint"]["current_state"] == "idle"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(uri, connect_timeout=3)
    call(api, "POST", f"/projects/{pid}/endpoints/{ep['id']}/start")
    assert api.get(f"/projects/{pid}/endpoints/{ep['id']}").json()["endpoint"]["current_state"] == "active"
    with psycopg.connect(uri) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    r = call(api, "POST", f"/projects/{pid}/endpoints/{ep['id']}/restart")
    assert [o["action"] for o in r.json()["operations"]] == ["suspend_compute", "start_compute"]
    with psycopg.connect(uri) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    # A second read_write endpoint on a branch conflicts; a branch without one can get one.
    r = call(
        api,
        "POST",
        f"/projects/{pid}/endpoints",
        json={"endpoint": {"branch_id": ep["branch_id"], "type": "read_write"}},
    )
    assert r.status_code == 409
    bare = call(api, "POST", f"/projects/{pid}/branches", json={"branch": {"name": "bare"}}).json()["branch"]
    r = call(
        api,
        "POST",
        f"/projects/{pid}/endpoints",
        json={"endpoint": {"branch_id": bare["id"], "type": "read_write"}},
    )
    assert r.status_code == 201, r.text
    new_ep = r.json()["endpoint"]
    assert [
        e["id"] for e in api.get(f"/projects/{pid}/branches/{bare['id']}/endpoints").json()["endpoints"]
    ] == [new_ep["id"]]
    assert len(api.get(f"/projects/{pid}/endpoints").json()["endpoints"]) == 2
    bare_uri = _uri(api, pid, branch_id=bare["id"], database_name="neondb", role_name="neondb_owner")
    with psycopg.connect(bare_uri) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("neondb",)
    assert call(api, "DELETE", f"/projects/{pid}/endpoints/{new_ep['id']}").status_code == 200
    assert call(api, "DELETE", f"/projects/{pid}/endpoints/{new_ep['id']}").status_code == 204
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(bare_uri, connect_timeout=3)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("GET", "/projects/no-such-project", None, 404, "no-such-project"),
        ("GET", "/projects/{pid}/branches/br-missing-00000000", None, 404, "br-missing-00000000"),
        ("GET", "/projects/{pid}/operations/00000000-0000-4000-8000-000000000000", None, 404, "operation"),
        ("POST", "/projects/{pid}/branches", "{not json", 400, "malformed JSON"),
        ("POST", "/projects/{pid}/branches", '{"branch": {"name": 5}}', 400, "branch.name"),
        ("POST", "/projects/{pid}/branches", '{"branch": {"name": "main"}}', 409, "already exists"),
        ("POST", "/projects/{pid}/branches", '{"endpoints": [{"type": "gpu"}]}', 400, "endpoints[0].type"),
        ("POST", "/projects", '{"project": {"pg_version": "x"}}', 400, "project.pg_version"),
        (
            "PATCH",
            "/projects/{pid}/branches/{bid}",
            '{"branch": {"protected": "yes"}}',
            400,
            "branch.protected",
        ),
        ("POST", "/projects/{pid}/branches/{bid}/roles", '{"role": {}}', 400, "role.name"),
        ("GET", "/projects/{pid}/branches", "limit=0", 400, "limit"),
        ("GET", "/projects/{pid}/connection_uri", "database_name=neondb", 400, "role_name"),
        ("DELETE", "/projects/{pid}/branches/{bid}/roles/nobody", None, 204, None),
        ("GET", "/nowhere", None, 404, "not found"),
    ],
)
def test_bad_input_gets_neon_error_bodies(
    api: httpx.Client,
    shared_project: dict[str, Any],
    method: str,
    path: str,
    body: str | None,
    status: int,
    needle: str | None,
) -> None:
    url = path.format(pid=shared_project["project"]["id"], bid=shared_project["branch"]["id"])
    if url == "/nowhere":
        url = str(api.base_url).replace("/api/v2", "") + "/nowhere"
    if method == "GET" and body:
        r = api.get(url + "?" + body)
    else:
        r = api.request(
            method, url, content=body, headers={"Content-Type": "application/json", "X-Request-ID": "req-1"}
        )
    assert r.status_code == status, r.text
    if needle is None:
        assert r.content == b""
        return
    err = r.json()
    assert set(err) <= {"code", "message", "request_id"} and err["code"] == ""
    assert needle in err["message"]
    assert "Traceback" not in r.text


def test_requests_without_the_key_are_unauthorized(emulator: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        r = httpx.get(f"{emulator.url}/projects", headers=headers)
        assert r.status_code == 401 and r.json()["code"] == "" and r.json()["message"]
        assert emulator.api_key not in r.text
