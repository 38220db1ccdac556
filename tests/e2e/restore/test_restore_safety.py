"""Crash safety and failures (issue 5 items 5 and 7): a restore interrupted right after Neon accepted it
completes exactly once; a failed Neon operation, a missing Checkpoint and a snapshot deleted out of band
give phase Failed with the cause, and no half-done bookkeeping."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from tests.e2e.restore.conftest import RestoreHarness, sql

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]


@dataclass(frozen=True)
class Interrupted:
    project: str
    app: str  # production's connection URI
    snapshot: str  # of Checkpoint v1, taken while marker held 1 (production now holds 2)


def crash_mid_restore(restores: RestoreHarness) -> Interrupted:
    """Checkpoint v1, change production, then restore v1 with an operator that dies right after Neon
    accepted the restore: the restore is under way in Neon and nobody finishes it."""
    h = restores.h
    project = h.create_project()
    app = restores.app_uri(project)
    sql(app, "CREATE TABLE marker (v int)")
    sql(app, "INSERT INTO marker VALUES (1)")
    first = h.start_operator(NEON_CHECKPOINTS_CRASH_AFTER="restore-accepted")
    snapshot = restores.checkpoint(project, "v1", "c1")["status"]["snapshotId"]
    sql(app, "UPDATE marker SET v = 2")
    restores.restore("back-to-v1", "v1")
    assert first.wait_exit(timeout=60) == 137, first.log()
    assert "crash injection: exiting abruptly after restore-accepted" in first.log()
    assert h.get("checkpointrestore", "back-to-v1")["status"]["phase"] == "Restoring"
    return Interrupted(project, app, snapshot)


def assert_restored_once(restores: RestoreHarness, interrupted: Interrupted) -> None:
    status = restores.wait_restore("back-to-v1")["status"]
    assert status["phase"] == "Succeeded", status
    branches = restores.branches(interrupted.project).values()
    restored = [b for b in branches if b.restored_from == interrupted.snapshot]
    assert len(restored) == 1, "exactly one restore was issued"
    assert restored[0].name == "production" and restored[0].id == status["restoredBranchId"]
    assert sql(interrupted.app, "SELECT v FROM marker") == [(1,)]
    [row] = restores.restores()
    assert (row["phase"], row["restored_branch_id"]) == ("Succeeded", restored[0].id)


def test_crash_after_the_restore_was_accepted_restores_exactly_once(restores: RestoreHarness) -> None:
    interrupted = crash_mid_restore(restores)
    restores.h.start_operator()
    assert_restored_once(restores, interrupted)
    assert "already requested by an earlier attempt" in restores.h.operators.started[1].log()


def test_a_restore_under_way_is_finished_even_if_its_checkpoint_was_deleted_meanwhile(
    restores: RestoreHarness,
) -> None:
    h = restores.h
    interrupted = crash_mid_restore(restores)
    # While the operator is down the Checkpoint goes for good (deleted, its finalizer removed by hand).
    h.kubectl("delete", "checkpoint", "v1", "--wait=false")
    h.kubectl("patch", "checkpoint", "v1", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    gone = h.kubectl("wait", "--for=delete", "checkpoint/v1", "--timeout=30s", check=False, timeout=40)
    assert gone.returncode == 0, gone.stderr
    h.start_operator()
    assert_restored_once(restores, interrupted)


def test_failed_operation_fails_the_restore_and_leaves_production_as_neon_left_it(
    restores: RestoreHarness,
) -> None:
    h = restores.h
    project = h.create_project()
    app = restores.app_uri(project)
    sql(app, "CREATE TABLE marker (v int)")
    h.start_operator()
    restores.checkpoint(project, "v1", "c1")
    sql(app, "INSERT INTO marker VALUES (2)")
    production = restores.branches(project)["production"].id
    h.set_faults({"fail_operations": {"create_branch": 1.0}})

    restores.restore("back-to-v1", "v1")
    body = restores.wait_restore("back-to-v1", "Failed")
    status = body["status"]
    assert status["conditions"][0]["reason"] == "OperationFailed"
    assert "create_branch" in status["message"] and "error" in status["message"]
    failed = [e for e in h.events("back-to-v1") if e["reason"] == "Failed"]
    assert failed and failed[0]["type"] == "Warning"
    [row] = restores.restores()
    assert row["phase"] == "Failed" and "create_branch" in row["error"]
    assert (row["restored_branch_id"], row["replaced_branch_id"]) == (None, None), "no half-done results"
    assert "restoredBranchId" not in status
    # Neon (the emulator) undid the failed restore: production is the same branch with the same data.
    branches = restores.branches(project)
    assert branches["production"].id == production and "production (old)" not in branches
    assert sql(app, "SELECT v FROM marker") == [(2,)]


def test_restore_of_a_missing_checkpoint_fails_naming_it(restores: RestoreHarness) -> None:
    h = restores.h
    h.start_operator()
    restores.restore("nothing", "no-such-checkpoint")
    status = restores.wait_restore("nothing", "Failed")["status"]
    assert status["conditions"][0]["reason"] == "CheckpointNotFound"
    assert f"Checkpoint {h.namespace}/no-such-checkpoint not found" in status["message"]


def test_restore_of_a_snapshot_deleted_out_of_band_fails_with_neons_reason(restores: RestoreHarness) -> None:
    h = restores.h
    project = h.create_project()
    h.start_operator()
    snapshot = restores.checkpoint(project, "v1", "c1")["status"]["snapshotId"]
    with h.neon() as neon:
        neon.wait_for_operations(project, neon.delete_snapshot(project, snapshot), timeout=30)

    restores.restore("back-to-v1", "v1")
    status = restores.wait_restore("back-to-v1", "Failed")["status"]
    assert status["conditions"][0]["reason"] == "SnapshotNotFound"
    assert f"snapshot '{snapshot}' not found" in status["message"], "Neon's own words"
    [row] = restores.restores()
    assert row["phase"] == "Failed" and snapshot in row["error"]

    # A spec change after creation is rejected by the apiserver.
    changed = h.apply(h.example("checkpointrestore.yaml", project).replace("name: v1", "name: v2"))
    assert changed.returncode != 0 and "immutable" in changed.stderr


def test_restore_waits_pending_while_the_checkpoint_is_not_ready(restores: RestoreHarness) -> None:
    h = restores.h
    project = h.create_project()
    restores.restore("early", "v1")  # the Checkpoint does not exist in Neon's sense yet: not Ready
    applied = h.apply(h.example("checkpoint.yaml", project))
    assert applied.returncode == 0
    h.set_faults({"operation_delay": 1.5})  # the snapshot takes a while: the restore must wait for it
    h.start_operator()
    seen = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = h.get("checkpointrestore", "early").get("status", {})
        seen.add((status.get("phase"), (status.get("conditions") or [{}])[0].get("reason")))
        if status.get("phase") in ("Restoring", "Succeeded", "Failed"):
            break
        time.sleep(0.1)
    restores.wait_restore("early")
    assert ("Pending", "CheckpointNotReady") in seen, seen
