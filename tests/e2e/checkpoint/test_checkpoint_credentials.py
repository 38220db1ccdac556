"""A per-resource `credentialsSecretRef` overrides the operator's API key; a deletion that Neon refuses
(the key was revoked) does not hold the resource (issue 20 item 5): it goes, and a Warning Event names the
snapshot left in Neon."""

from __future__ import annotations

import pytest

from tests.e2e.checkpoint.conftest import Harness

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]


def test_tenant_key_is_used_and_a_refused_deletion_lets_go_naming_the_snapshot(harness: Harness) -> None:
    project = harness.create_project()
    # The operator's own key is wrong: only the Secret's key can make this checkpoint Ready.
    harness.start_operator(NEON_API_KEY="napi_operator_default_is_not_valid")
    manifest = harness.example(
        "checkpoint-tenant-key.yaml", project, napi_replace_me=harness.emulator.api_key
    )
    assert harness.apply(manifest).returncode == 0
    harness.wait_ready("before-migration")
    body = harness.get("checkpoint", "before-migration")
    uid = body["metadata"]["uid"]
    assert body["status"]["branch"] == "production"  # no spec.branch: the project's default branch
    assert harness.snapshot_names(project) == [f"ckpt-{uid}"]

    # The tenant's key is revoked before the checkpoint is deleted.
    harness.kubectl("patch", "secret", "tenant-neon-api", "-p", '{"stringData":{"apiKey":"napi_revoked"}}')
    snapshot_id = body["status"]["snapshotId"]
    gone = harness.kubectl("delete", "checkpoint", "before-migration", "--timeout=20s", check=False)
    assert gone.returncode == 0, gone.stderr + harness.operator_logs()
    [left] = [e for e in harness.events("before-migration") if e["reason"] == "SnapshotLeftBehind"]
    assert left["type"] == "Warning"
    assert snapshot_id in left["message"] and "API key was rejected (401)" in left["message"]
    assert "napi_revoked" not in left["message"]
    assert harness.snapshot_names(project) == [f"ckpt-{uid}"]
    [row] = harness.meta_rows()
    assert row["deleted_at"] is not None
