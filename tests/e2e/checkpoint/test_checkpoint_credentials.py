"""A per-resource `credentialsSecretRef` overrides the operator's API key; a deletion that Neon refuses
keeps the finalizer (no orphaned snapshot) until the cause is fixed or the policy becomes Retain."""

from __future__ import annotations

import time

import pytest

from tests.e2e.checkpoint.conftest import Harness

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]


def test_tenant_key_is_used_and_a_refused_deletion_waits(harness: Harness) -> None:
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
    harness.kubectl("delete", "checkpoint", "before-migration", "--wait=false")
    deadline = time.monotonic() + 60
    status: dict[str, object] = {}
    while time.monotonic() < deadline:
        status = harness.get("checkpoint", "before-migration")["status"]
        if "cannot be deleted" in str(status.get("message")):
            break
        time.sleep(0.3)
    assert status["phase"] == "Deleting"
    assert "API key was rejected (401)" in str(status["message"])
    assert harness.snapshot_names(project) == [f"ckpt-{uid}"]

    harness.kubectl(
        "patch",
        "checkpoint",
        "before-migration",
        "--type=merge",
        "-p",
        '{"spec":{"deletionPolicy":"Retain"}}',
    )
    gone = harness.kubectl(
        "wait", "--for=delete", "checkpoint/before-migration", "--timeout=60s", check=False, timeout=90
    )
    assert gone.returncode == 0, gone.stderr + harness.operator_logs()
    assert harness.snapshot_names(project) == [f"ckpt-{uid}"]
    [row] = harness.meta_rows()
    assert row["deleted_at"] is not None
