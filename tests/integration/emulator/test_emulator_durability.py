"""kill -9 the emulator mid-operation and start it again on the same data dir: nothing is lost."""

from __future__ import annotations

import os
import time

import psycopg
import pytest

from devenv.emulator import start_emulator
from tests.integration.emulator.calls import IN_PROGRESS, call, create_project, wait_operations
from tests.support.emulator import emulator_data_dir, postgres_pids_under, stop_and_check

pytestmark = [pytest.mark.emulator, pytest.mark.postgres]


def test_kill_9_and_restart_keeps_everything_and_serves_again() -> None:
    with emulator_data_dir("durability") as data_dir:
        server = start_emulator(data_dir)
        try:
            with server.client() as api:
                created = create_project(api, name="durable")
                pid, main_id = created["project"]["id"], created["branch"]["id"]
                uri = created["connection_uris"][0]["connection_uri"]
                with psycopg.connect(uri) as conn:
                    conn.execute("CREATE TABLE kept (v text)")
                    conn.execute("INSERT INTO kept VALUES ('before the crash')")
                snap = call(
                    api, "POST", f"/projects/{pid}/branches/{main_id}/snapshot", params={"name": "s1"}
                )
                snap_id = snap.json()["snapshot"]["id"]
                with psycopg.connect(uri) as conn:
                    conn.execute("INSERT INTO kept VALUES ('after the snapshot')")
                dev = call(
                    api,
                    "POST",
                    f"/projects/{pid}/branches",
                    json={"branch": {"name": "dev"}, "endpoints": [{"type": "read_write"}]},
                ).json()
                with server.admin() as admin:
                    admin.put("/faults", json={"operation_delay": 30}).raise_for_status()
                inflight = api.post(f"/projects/{pid}/branches", json={"branch": {"name": "inflight"}}).json()
                time.sleep(0.3)
                assert (
                    api.get(f"/projects/{pid}/operations/{inflight['operations'][0]['id']}").json()[
                        "operation"
                    ]["status"]
                    in IN_PROGRESS
                )
            server.kill()
            assert postgres_pids_under(data_dir), "a crash leaves the servers running"
            server = server.restart()
            with server.client() as api:
                branches = {b["name"]: b for b in api.get(f"/projects/{pid}/branches").json()["branches"]}
                assert set(branches) == {"main", "dev", "inflight"}
                assert [s["id"] for s in api.get(f"/projects/{pid}/snapshots").json()["snapshots"]] == [
                    snap_id
                ]
                final = wait_operations(api, pid, inflight["operations"])
                assert [o["status"] for o in final] == ["finished"]
                ops = api.get(f"/projects/{pid}/operations").json()["operations"]
                assert len(ops) == 7 and all(o["status"] == "finished" for o in ops)
                with psycopg.connect(uri) as conn:
                    assert conn.execute("SELECT v FROM kept ORDER BY v").fetchall() == [
                        ("after the snapshot",),
                        ("before the crash",),
                    ]
                dev_uri = api.get(
                    f"/projects/{pid}/connection_uri",
                    params={
                        "branch_id": dev["branch"]["id"],
                        "database_name": "neondb",
                        "role_name": "neondb_owner",
                    },
                ).json()["uri"]
                with psycopg.connect(dev_uri) as conn:
                    assert conn.execute("SELECT count(*) FROM kept").fetchone() == (2,)
                r = call(
                    api,
                    "POST",
                    f"/projects/{pid}/snapshots/{snap_id}/restore",
                    json={"target_branch_id": main_id, "finalize_restore": True},
                )
                assert r.status_code == 200
                with psycopg.connect(uri) as conn:  # the snapshot taken before the crash still restores
                    assert conn.execute("SELECT v FROM kept").fetchall() == [("before the crash",)]
        finally:
            stop_and_check(server)
        assert not postgres_pids_under(data_dir)
        assert os.path.exists(data_dir / "state.json")


def test_sigterm_mid_operation_exits_cleanly_and_the_operation_finishes_after_restart() -> None:
    with emulator_data_dir("sigterm") as data_dir:
        server = start_emulator(data_dir)
        try:
            with server.client() as api:
                created = create_project(api, name="interrupted")
                pid = created["project"]["id"]
                with server.admin() as admin:
                    admin.put("/faults", json={"operation_delay": 30}).raise_for_status()
                r = api.post(f"/projects/{pid}/branches", json={"branch": {"name": "late"}})
                assert r.status_code == 201
            started = time.monotonic()
            stop_and_check(server)  # SIGTERM: exit 0, every postgres stopped
            assert time.monotonic() - started < 20
            server = server.restart()
            with server.client() as api:
                final = wait_operations(api, pid, r.json()["operations"])
                assert [o["status"] for o in final] == ["finished"]
                got = api.get(f"/projects/{pid}/branches/{r.json()['branch']['id']}").json()["branch"]
                assert got["current_state"] == "ready"
                with psycopg.connect(created["connection_uris"][0]["connection_uri"]) as conn:
                    assert conn.execute("SELECT 1").fetchone() == (1,)
        finally:
            stop_and_check(server)
