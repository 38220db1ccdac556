"""A snapshot is the branch as it was when the POST was accepted (neon-api.md §6; issue 18, done-means 1):
with an application writing continuously, every row committed before the request is in the snapshot and no
row written after the answer is, on both storage drivers, although the snapshot's operations run later."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest

from devenv.emulator import EmulatorServer
from tests.integration.emulator.calls import call, create_project, measured_snapshots, wait_operations

pytestmark = [pytest.mark.emulator, pytest.mark.postgres]

OPERATION_DELAY = 0.4  # the snapshot's operations run this long after the answer: writes keep going


@dataclass
class Writer:
    """Inserts rows 1, 2, 3, ... one transaction each, recording when each was sent and acknowledged."""

    uri: str
    sent: dict[int, float] = field(default_factory=dict)
    acked: dict[int, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.uri, autocommit=True) as conn:
                n = 0
                while not self.stop.is_set():
                    n += 1
                    self.sent[n] = time.monotonic()
                    conn.execute("INSERT INTO ticks (n) VALUES (%s)", [n])
                    self.acked[n] = time.monotonic()
        except BaseException as exc:
            self.error = exc


def _restored_rows(api: httpx.Client, pid: str, snap_id: str) -> set[int]:
    r = call(api, "POST", f"/projects/{pid}/snapshots/{snap_id}/restore", json={"finalize_restore": False})
    assert r.status_code == 200, r.text
    branch_id = r.json()["branch"]["id"]
    uri = api.get(
        f"/projects/{pid}/connection_uri",
        params={"branch_id": branch_id, "database_name": "neondb", "role_name": "neondb_owner"},
    ).json()["uri"]
    with psycopg.connect(uri) as conn:
        rows = {int(n) for (n,) in conn.execute("SELECT n FROM ticks").fetchall()}
    assert call(api, "DELETE", f"/projects/{pid}/branches/{branch_id}").status_code == 200
    return rows


def test_a_snapshot_holds_exactly_the_writes_before_its_request(each_driver: EmulatorServer) -> None:
    with each_driver.client() as api, each_driver.admin() as admin:
        project: dict[str, Any] = create_project(api, name="boundary")
        pid, main_id = project["project"]["id"], project["branch"]["id"]
        uri = project["connection_uris"][0]["connection_uri"]
        with psycopg.connect(uri, autocommit=True) as conn:
            conn.execute("CREATE TABLE ticks (n int PRIMARY KEY)")
        admin.put("/faults", json={"operation_delay": OPERATION_DELAY}).raise_for_status()
        writer = Writer(uri)
        thread = threading.Thread(target=writer.run, daemon=True)
        thread.start()
        try:
            taken = []
            for name in ("first", "second"):
                time.sleep(0.3)
                requested = time.monotonic()
                r = api.post(f"/projects/{pid}/branches/{main_id}/snapshot", params={"name": name})
                answered = time.monotonic()
                assert r.status_code == 200, r.text
                body = r.json()
                taken.append((body["snapshot"], requested, answered))
                time.sleep(OPERATION_DELAY + 0.3)  # past the moment the operations run
                assert all(o["status"] == "finished" for o in wait_operations(api, pid, body["operations"]))
        finally:
            writer.stop.set()
            thread.join(timeout=30)
        assert writer.error is None, writer.error
        admin.post("/reset-faults").raise_for_status()

        for snap, requested, answered in taken:
            before = {n for n, at in writer.acked.items() if at < requested}
            after = {n for n, at in writer.sent.items() if at > answered}
            assert len(before) > 50 and len(after) > 50, (len(before), len(after))  # the writer kept going
            rows = _restored_rows(api, pid, snap["id"])
            assert before <= rows, f"{snap['name']}: missing {before - rows}"
            late = sorted(rows & after)
            assert not late, f"{snap['name']}: {len(late)} rows written after the answer, from {late[0]}"

        listed = measured_snapshots(api, pid)
        first, second = listed["first"], listed["second"]
        for snap in (first, second):
            assert snap["full_size"] > 1_000_000 and 0 < snap["diff_size"] <= snap["full_size"], snap
            assert snap["lsn"].count("/") == 1
        assert first["diff_size"] == first["full_size"]  # nothing earlier to count against
        assert second["diff_size"] < second["full_size"]  # only what changed since "first"
        call(api, "DELETE", f"/projects/{pid}", wait=False)
