"""Several API keys, each an account seeing only its own projects (issue 20, item 9): another account's
project is answered 404 as if it did not exist, as Neon answers a key outside its organisation."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.emulator.calls import call, create_project
from tests.support.emulator import emulator_data_dir, running_emulator

pytestmark = [pytest.mark.emulator, pytest.mark.postgres]

KEY_B = "key-of-account-b-0123456789"


def _client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def test_each_key_sees_only_its_own_projects() -> None:
    env = {"NEON_EMULATOR_API_KEYS": f"{KEY_B}, another-key-for-c-987654321"}
    with (
        emulator_data_dir("accounts") as data_dir,
        running_emulator(data_dir, env=env) as server,
        server.client() as a,
        _client(server.url, KEY_B) as b,
        server.admin() as admin,
    ):
        me_a, me_b = a.get("/users/me").json(), b.get("/users/me").json()
        assert me_a["id"] == "emulator" and me_b["id"].startswith("user-") and me_a["id"] != me_b["id"]
        org_a = a.get("/users/me/organizations").json()["organizations"][0]["id"]
        org_b = b.get("/users/me/organizations").json()["organizations"][0]["id"]
        assert org_a == "org-emulator" and org_b != org_a

        # A project is made in the key's organisation whatever org_id is asked (as with an org key).
        pa = create_project(a, name="tenant-a", org_id=org_b)
        pid, main_id = pa["project"]["id"], pa["branch"]["id"]
        assert pa["project"]["org_id"] == org_a and pa["project"]["owner_id"] == "emulator"
        pb = create_project(b, name="tenant-b")
        assert pb["project"]["org_id"] == org_b

        assert [p["id"] for p in a.get("/projects").json()["projects"]] == [pid]
        assert [p["id"] for p in b.get("/projects").json()["projects"]] == [pb["project"]["id"]]
        for method, path in [
            ("GET", f"/projects/{pid}"),
            ("GET", f"/projects/{pid}/branches"),
            ("GET", f"/projects/{pid}/branches/{main_id}"),
            ("POST", f"/projects/{pid}/branches/{main_id}/snapshot"),
            ("GET", f"/projects/{pid}/connection_uri?database_name=neondb&role_name=neondb_owner"),
            ("PATCH", f"/projects/{pid}"),
            ("DELETE", f"/projects/{pid}"),
        ]:
            r = b.request(method, path, json={"project": {"name": "taken"}} if method == "PATCH" else None)
            assert r.status_code == 404, (method, path, r.status_code, r.text)
            assert r.json()["message"] == f"project {pid!r} not found"
        assert (
            b.get("/projects/no-such-project-1").json()["message"] == "project 'no-such-project-1' not found"
        )
        assert a.get(f"/projects/{pid}").json()["project"]["name"] == "tenant-a"  # untouched by B
        assert a.get(f"/projects/{pb['project']['id']}").status_code == 404

        # The admin routes take the first key only; keys can be added at run time.
        with _client(server.admin_url, KEY_B) as b_admin:
            assert b_admin.get("/status").status_code == 403
        assert [x["id"] for x in admin.get("/api-keys").json()["accounts"]][:2] == ["emulator", me_b["id"]]
        r = admin.post("/api-keys", json={"key": "key-added-at-run-time-42"})
        assert r.status_code == 201 and r.json()["account"]["id"].startswith("user-")
        assert admin.post("/api-keys", json={"key": KEY_B}).status_code == 409
        with _client(server.url, "key-added-at-run-time-42") as d:
            assert d.get("/projects").json()["projects"] == []
            assert d.get(f"/projects/{pid}").status_code == 404
        with _client(server.url, "unknown-key") as stranger:
            assert stranger.get("/projects").status_code == 401

        assert call(a, "DELETE", f"/projects/{pid}", wait=False).status_code == 200
        assert call(b, "DELETE", f"/projects/{pb['project']['id']}", wait=False).status_code == 200
