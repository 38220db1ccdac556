"""A Preview restore writes and deletes only Secrets it owns (issue 20 item 1): a restore naming an existing
Secret fails with SecretNameTaken before asking Neon anything, leaves that Secret as it was, and deleting
the restore deletes no Secret of another's."""

from __future__ import annotations

import pytest

from tests.e2e.restore.conftest import RestoreHarness

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]


def test_a_preview_cannot_overwrite_or_delete_someone_elses_secret(restores: RestoreHarness) -> None:
    h = restores.h
    project = h.create_project()
    h.start_operator()
    restores.checkpoint(project, "v1", "c1")
    h.kubectl("create", "secret", "generic", "victim", "--from-literal=password=hunter2")
    before = restores.secret("victim")

    restores.restore("grab", "v1", example="checkpointrestore-preview.yaml", previewSecretName="victim")
    failed = restores.wait_restore("grab", phase="Failed")

    conditions = {c["type"]: c for c in failed["status"]["conditions"]}
    assert conditions["Succeeded"]["reason"] == "SecretNameTaken"
    assert f"{h.namespace}/victim" in failed["status"]["message"]
    after = restores.secret("victim")
    assert after["decoded"] == {"password": "hunter2"}
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert not after["metadata"].get("ownerReferences")
    assert all(not b.startswith("preview-") for b in restores.branches(project)), "Neon was not asked"

    deleted = h.kubectl("delete", "checkpointrestore", "grab", "--timeout=60s", check=False)
    assert deleted.returncode == 0, deleted.stderr
    assert restores.secret("victim")["decoded"] == {"password": "hunter2"}
