"""`kubectl apply` a Checkpoint -> a Neon snapshot under the deterministic name, a meta row, Ready;
`kubectl delete` removes the snapshot (Delete) or keeps it (Retain). Issue 4 items 4-5."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from neon_checkpoints.core.times import rfc3339
from tests.e2e.checkpoint.conftest import Harness, eventually

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]


def test_apply_makes_a_snapshot_a_meta_row_and_ready(harness: Harness) -> None:
    project = harness.create_project()
    harness.start_operator()
    applied = harness.apply(harness.example("checkpoint.yaml", project))
    assert applied.returncode == 0, applied.stderr
    harness.wait_ready("v1")

    body = harness.get("checkpoint", "v1")
    uid, status = body["metadata"]["uid"], body["status"]
    assert harness.snapshot_names(project) == [f"ckpt-{uid}"]
    assert status["phase"] == "Ready"
    assert status["snapshotName"] == f"ckpt-{uid}"
    assert status["snapshotId"].startswith("snap-")
    assert status["branch"] == "production"
    assert status["operations"] and all(
        op["status"] in ("finished", "skipped") for op in status["operations"]
    )
    [ready] = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == (
        "True",
        "SnapshotReady",
        body["metadata"]["generation"],
    )

    [row] = harness.meta_rows()
    assert (row["uid"], row["namespace"], row["name"], row["project_id"]) == (
        uid,
        harness.namespace,
        "v1",
        project,
    )
    assert (row["snapshot_id"], row["branch_name"], row["phase"]) == (
        status["snapshotId"],
        "production",
        "Ready",
    )
    assert row["source"] == {"commit": "3f2c9e1", "prompt": "add contacts table"}
    assert row["source_branch_id"] == status["sourceBranchId"]
    assert status["checkpointId"] == row["id"]

    reasons = [e["reason"] for e in harness.events("v1")]
    # One Event per phase transition (timestamps have one-second resolution, so compare as a multiset).
    assert sorted(reasons) == ["Creating", "Pending", "Ready"]

    printed = harness.kubectl("get", "ckpt", "v1").stdout.splitlines()[1].split()
    assert printed[:4] == ["v1", "Ready", status["snapshotId"], "3f2c9e1"]

    # A second checkpoint descends from the first in the timeline.
    second = harness.example("checkpoint.yaml", project, **{"name: v1": "name: v2", "3f2c9e1": "9d0a4b2"})
    assert harness.apply(second).returncode == 0
    harness.wait_ready("v2")
    rows = harness.meta_rows()
    assert [r["name"] for r in rows] == ["v1", "v2"]
    assert rows[1]["parent_checkpoint_id"] == rows[0]["id"]
    assert harness.get("checkpoint", "v2")["status"]["parentCheckpointId"] == rows[0]["id"]

    # Changing a mutable field is acknowledged (observedGeneration) without leaving Ready.
    harness.kubectl("patch", "ckpt", "v1", "--type=merge", "-p", '{"spec":{"deletionPolicy":"Retain"}}')
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        patched = harness.get("checkpoint", "v1")
        if patched["status"]["observedGeneration"] == patched["metadata"]["generation"] == 2:
            break
        time.sleep(0.2)
    [ready] = [c for c in patched["status"]["conditions"] if c["type"] == "Ready"]
    assert (patched["status"]["phase"], ready["status"], ready["observedGeneration"]) == ("Ready", "True", 2)
    assert harness.snapshot_names(project) == sorted(
        f"ckpt-{harness.get('checkpoint', n)['metadata']['uid']}" for n in ("v1", "v2")
    )


def test_delete_policy_delete_removes_the_snapshot(harness: Harness) -> None:
    project = harness.create_project()
    harness.start_operator()
    assert harness.apply(harness.example("checkpoint.yaml", project)).returncode == 0
    harness.wait_ready("v1")
    uid = harness.get("checkpoint", "v1")["metadata"]["uid"]
    assert harness.snapshot_names(project) == [f"ckpt-{uid}"]

    deleted = harness.kubectl("delete", "checkpoint", "v1", "--timeout=60s", check=False)
    assert deleted.returncode == 0, deleted.stderr + harness.operator_logs()
    assert harness.snapshot_names(project) == []
    [row] = harness.meta_rows()
    assert row["deleted_at"] is not None


def test_delete_policy_retain_keeps_the_snapshot(harness: Harness) -> None:
    project = harness.create_project()
    harness.start_operator()
    assert harness.apply(harness.example("checkpoint-retain.yaml", project)).returncode == 0
    harness.wait_ready("release-2026-11")
    body = harness.get("checkpoint", "release-2026-11")
    uid = body["metadata"]["uid"]
    assert body["status"]["expiresAt"]  # ttl 7d became the snapshot's expiry

    deleted = harness.kubectl("delete", "checkpoint", "release-2026-11", "--timeout=60s", check=False)
    assert deleted.returncode == 0, deleted.stderr + harness.operator_logs()
    assert harness.snapshot_names(project) == [f"ckpt-{uid}"]
    [row] = harness.meta_rows()
    assert row["deleted_at"] is not None and row["snapshot_id"] == body["status"]["snapshotId"]


def test_editing_the_ttl_moves_the_snapshot_expiry_in_neon_status_and_meta(harness: Harness) -> None:
    project = harness.create_project()
    harness.start_operator()
    manifest = """
apiVersion: neoncheckpoints.dev/v1alpha1
kind: Checkpoint
metadata: {{name: expiring}}
spec: {{projectId: {project}, branch: production{extra}}}
"""
    assert harness.apply(manifest.format(project=project, extra=", ttl: 1h")).returncode == 0
    harness.wait_ready("expiring")
    body = harness.get("checkpoint", "expiring")
    created = dt.datetime.fromisoformat(body["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    snapshot_id = body["status"]["snapshotId"]

    def neon_expiry() -> dt.datetime | None:
        with harness.neon() as neon:
            [snapshot] = [s for s in neon.list_snapshots(project) if s.id == snapshot_id]
        return snapshot.expires_at

    assert neon_expiry() == created + dt.timedelta(hours=1)

    def settled(expected: str | None) -> dict[str, Any] | None:
        status = harness.get("checkpoint", "expiring")["status"]
        moved = status.get("expiresAt") == expected and status["observedGeneration"] == 2 + (expected is None)
        return status if moved else None

    applied = harness.apply(manifest.format(project=project, extra=", ttl: 3h"))
    assert applied.returncode == 0, applied.stderr
    later = created + dt.timedelta(hours=3)
    status = eventually(lambda: settled(rfc3339(later)), timeout=30, what="status.expiresAt moved", h=harness)
    assert status["phase"] == "Ready"
    assert neon_expiry() == later
    [row] = harness.meta_rows("SELECT expires_at FROM checkpoints WHERE name = 'expiring'")
    assert row["expires_at"] == later
    assert "ExpiryChanged" in {c["reason"] for c in status["conditions"]}

    applied = harness.apply(manifest.format(project=project, extra=""))  # ttl removed: keep the snapshot
    assert applied.returncode == 0, applied.stderr
    eventually(lambda: settled(None), timeout=30, what="status.expiresAt cleared", h=harness)
    assert neon_expiry() is None
    [row] = harness.meta_rows("SELECT expires_at FROM checkpoints WHERE name = 'expiring'")
    assert row["expires_at"] is None
