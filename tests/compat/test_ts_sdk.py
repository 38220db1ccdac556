"""Neon's TypeScript SDK (`@neondatabase/api-client`, from npm) through the whole checkpoint flow on the
emulator, and its error paths: each SDK method runs in node (sdk.cjs); SQL goes through psycopg on the
connection string the SDK returned."""

from __future__ import annotations

import pytest

from tests.compat.clients import TsSdk, sql

pytestmark = [pytest.mark.compat, pytest.mark.emulator, pytest.mark.postgres]


def test_checkpoint_flow(ts_sdk: TsSdk) -> None:
    assert ts_sdk.ok("getCurrentUserInfo")["id"]
    assert ts_sdk.ok("getCurrentUserOrganizations")["organizations"]
    created = ts_sdk.ok("createProject", {"project": {"name": "compat-ts-sdk"}})
    pid = created["project"]["id"]
    try:
        found = ts_sdk.ok("listProjectBranches", {"projectId": pid, "search": "main"})["branches"]
        main = next(b for b in found if b["name"] == "main")  # lookup by name
        target = {"projectId": pid, "branch_id": main["id"], "database_name": "neondb"}
        uri = ts_sdk.ok("getConnectionUri", {**target, "role_name": "neondb_owner"})["uri"]
        ts_sdk.wait_operations(pid)
        sql(uri, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('before')")

        taken = ts_sdk.ok("createSnapshot", {"projectId": pid, "branchId": main["id"], "name": "ckpt-1"})
        snap = taken["snapshot"]
        sql(uri, "INSERT INTO notes VALUES ('after')")
        ops = ts_sdk.wait_operations(pid)
        assert ops and all(op["status"] == "finished" for op in ops), ops
        listed = ts_sdk.ok("listSnapshots", pid)["snapshots"]
        assert [s["id"] for s in listed] == [snap["id"]] and listed[0]["full_size"] > 0

        restored = ts_sdk.ok(
            "restoreSnapshot",
            {"projectId": pid, "snapshotId": snap["id"]},
            {"target_branch_id": main["id"], "finalize_restore": True, "name": "main-restored"},
        )
        assert restored["branch"]["restored_from"] == snap["id"]
        ops = ts_sdk.wait_operations(pid)
        assert all(op["status"] == "finished" for op in ops), ops

        assert sql(uri, "SELECT body FROM notes ORDER BY body") == [("before",)]
        branches = {b["name"]: b for b in ts_sdk.ok("listProjectBranches", {"projectId": pid})["branches"]}
        # Finalized: the restored branch took the original's name, default flag and compute.
        assert branches["main"]["id"] == restored["branch"]["id"] and branches["main"]["default"] is True
        old = next(b for name, b in branches.items() if name.endswith("(old)"))
        assert old["id"] == main["id"]
        again = {**target, "branch_id": restored["branch"]["id"], "role_name": "neondb_owner"}
        assert ts_sdk.ok("getConnectionUri", again)["uri"] == uri

        ts_sdk.ok("deleteProjectBranch", {"projectId": pid, "branchId": old["id"]})
        ts_sdk.ok("deleteSnapshot", pid, snap["id"])
        ts_sdk.wait_operations(pid)
        remaining = ts_sdk.ok("listProjectBranches", {"projectId": pid})["branches"]
        assert [b["name"] for b in remaining] == ["main"]
    finally:
        ts_sdk.call("deleteProject", pid)
    assert ts_sdk.call("getProject", pid).status == 404


def test_error_paths(ts_sdk: TsSdk) -> None:
    refused = TsSdk(ts_sdk.server, api_key="not-a-key").call("listProjects", {})
    assert refused.status == 401 and refused.error["message"], refused

    missing = ts_sdk.call("getProject", "no-such-project-123")
    assert missing.status == 404 and "no-such-project-123" in missing.error["message"], missing

    pid = ts_sdk.ok("createProject", {"project": {"name": "compat-ts-sdk-errors"}})["project"]["id"]
    try:
        ts_sdk.wait_operations(pid)
        nobranch = ts_sdk.call("createSnapshot", {"projectId": pid, "branchId": "br-no-such-branch"})
        assert nobranch.status == 404, nobranch
        nosnap = ts_sdk.call("restoreSnapshot", {"projectId": pid, "snapshotId": "snap-none"}, {})
        assert nosnap.status == 404, nosnap
        dup = ts_sdk.call("createProjectBranch", pid, {"branch": {"name": "main"}})
        assert dup.status == 409 and "already exists" in dup.error["message"], dup
        main = ts_sdk.ok("listProjectBranches", {"projectId": pid})["branches"][0]
        notrestored = ts_sdk.call("finalizeRestoreBranch", pid, main["id"], {})
        assert notrestored.status == 400, notrestored
        for answer in (nobranch, nosnap, dup, notrestored):
            assert set(answer.error) >= {"code", "message"}, answer
    finally:
        ts_sdk.call("deleteProject", pid)
