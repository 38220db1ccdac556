"""Hostile manifests (issue 20 item 10): wrong types, extremes, unicode, name limits, references across
namespaces. Each is rejected by the apiserver with a message naming the field (the CRDs' schemas and CEL,
checked with a server-side dry run), or passes it and ends `Failed` with a reason, with no traceback in the
operator's log."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from devenv.controlplane import KubeControlPlane
from tests.e2e.checkpoint.conftest import Harness

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]

GROUP = "neoncheckpoints.dev/v1alpha1"
LONG = "a" * 300


def doc(kind: str, spec: Any, name: str = "h1") -> dict[str, Any]:
    return {"apiVersion": GROUP, "kind": kind, "metadata": {"name": name}, "spec": spec}


def ckpt(name: str = "h1", **spec: Any) -> dict[str, Any]:
    return doc("Checkpoint", {"projectId": "p-1", **spec}, name)


def restore(**spec: Any) -> dict[str, Any]:
    return doc("CheckpointRestore", {"checkpointRef": {"name": "v1"}, **spec})


def schedule(template: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"checkpointTemplate": {"spec": template or {"projectId": "p-1"}}, **spec}
    if "schedule" not in spec and "every" not in spec:
        body["every"] = "1h"  # every=None: no trigger at all
    return doc("CheckpointSchedule", {k: v for k, v in body.items() if v is not None})


REJECTED = [
    # Checkpoint
    pytest.param(doc("Checkpoint", {"branch": "production"}), "spec.projectId", id="ckpt-no-project"),
    pytest.param(ckpt(projectId=42), "spec.projectId", id="ckpt-project-int"),
    pytest.param(ckpt(projectId="Gentle-River"), "spec.projectId", id="ckpt-project-capitals"),
    pytest.param(ckpt(projectId="p" * 61), "spec.projectId", id="ckpt-project-61-chars"),
    pytest.param(ckpt(projectId="prøject-ü"), "spec.projectId", id="ckpt-project-unicode"),
    pytest.param(ckpt(projectId=""), "spec.projectId", id="ckpt-project-empty"),
    pytest.param(ckpt(projectId="p-1\u0000"), "spec.projectId", id="ckpt-project-nul"),
    pytest.param(ckpt(branch=""), "spec.branch", id="ckpt-branch-empty"),
    pytest.param(ckpt(branch="b" * 257), "spec.branch", id="ckpt-branch-257-chars"),
    pytest.param(ckpt(branch=["production"]), "spec.branch", id="ckpt-branch-list"),
    pytest.param(ckpt(deletionPolicy="delete"), "spec.deletionPolicy", id="ckpt-policy-lowercase"),
    pytest.param(ckpt(deletionPolicy=1), "spec.deletionPolicy", id="ckpt-policy-int"),
    pytest.param(ckpt(ttl="1y"), "spec.ttl", id="ckpt-ttl-years"),
    pytest.param(ckpt(ttl="-1h"), "spec.ttl", id="ckpt-ttl-negative"),
    pytest.param(ckpt(ttl="999999999999d"), "spec.ttl", id="ckpt-ttl-huge"),
    pytest.param(ckpt(ttl=3600), "spec.ttl", id="ckpt-ttl-int"),
    pytest.param(ckpt(ttl="1h" * 20), "spec.ttl", id="ckpt-ttl-too-long"),
    pytest.param(ckpt(expiresAt="tomorrow"), "spec.expiresAt", id="ckpt-expires-not-a-time"),
    pytest.param(ckpt(expiresAt="9999-12-31T23:59:59Z"), "spec.expiresAt", id="ckpt-expires-9999"),
    pytest.param(
        ckpt(ttl="1h", expiresAt="2030-01-01T00:00:00Z"), "spec.expiresAt", id="ckpt-ttl-and-expires"
    ),
    pytest.param(ckpt(credentialsSecretRef="key"), "spec.credentialsSecretRef", id="ckpt-secret-ref-string"),
    pytest.param(
        ckpt(credentialsSecretRef={"key": "k"}), "credentialsSecretRef.name", id="ckpt-secret-no-name"
    ),
    pytest.param(
        ckpt(credentialsSecretRef={"name": ""}), "credentialsSecretRef.name", id="ckpt-secret-empty"
    ),
    pytest.param(
        ckpt(credentialsSecretRef={"name": "k", "namespace": "kube-system"}),
        "credentialsSecretRef.namespace",
        id="ckpt-secret-other-namespace",
    ),
    pytest.param(ckpt(projectID="p-1"), "projectID", id="ckpt-misspelt-field"),
    pytest.param(
        {"apiVersion": GROUP, "kind": "Checkpoint", "metadata": {"name": "h1"}}, "spec", id="ckpt-no-spec"
    ),
    pytest.param(ckpt(name="Upper-Case"), "metadata.name", id="ckpt-name-capitals"),
    pytest.param(ckpt(name="n" * 254), "metadata.name", id="ckpt-name-254-chars"),
    pytest.param(ckpt(name="ünïcode"), "metadata.name", id="ckpt-name-unicode"),
    # CheckpointRestore
    pytest.param(doc("CheckpointRestore", {"mode": "Finalize"}), "spec.checkpointRef", id="restore-no-ref"),
    pytest.param(restore(checkpointRef={}), "checkpointRef.name", id="restore-ref-no-name"),
    pytest.param(
        restore(checkpointRef={"name": "v1", "namespace": "tenant-a"}),
        "checkpointRef.namespace",
        id="restore-ref-other-namespace",
    ),
    pytest.param(restore(checkpointRef="v1"), "spec.checkpointRef", id="restore-ref-string"),
    pytest.param(restore(mode="Rollback"), "spec.mode", id="restore-mode-unknown"),
    pytest.param(restore(oldBranchPolicy="Keep"), "spec.oldBranchPolicy", id="restore-old-branch-unknown"),
    pytest.param(restore(previewSecretName="s"), "spec.previewSecretName", id="restore-secret-on-finalize"),
    pytest.param(
        restore(mode="Preview", previewSecretName="Bad_Name"),
        "spec.previewSecretName",
        id="restore-secret-bad",
    ),
    pytest.param(
        restore(mode="Preview", previewSecretName="s" * 254),
        "spec.previewSecretName",
        id="restore-secret-254",
    ),
    pytest.param(restore(credentialsSecretRef=7), "spec.credentialsSecretRef", id="restore-secret-ref-int"),
    # CheckpointSchedule
    pytest.param(schedule(every=None), "spec.schedule", id="schedule-no-trigger"),
    pytest.param(schedule(every="1h", schedule="0 3 * * *"), "spec.schedule", id="schedule-two-triggers"),
    pytest.param(schedule(every=None, schedule="every day"), "spec.schedule", id="schedule-not-cron"),
    pytest.param(schedule(every=None, schedule="61 * * * *"), "spec.schedule", id="schedule-minute-61"),
    pytest.param(schedule(every="0s"), "spec.every", id="schedule-every-zero"),
    pytest.param(schedule(every="99999999d"), "spec.every", id="schedule-every-huge"),
    pytest.param(schedule(retention={"keepLast": 0}), "keepLast", id="schedule-keep-zero"),
    pytest.param(schedule(retention={"keepLast": 101}), "keepLast", id="schedule-keep-101"),
    pytest.param(schedule(retention={"keepLast": "3"}), "keepLast", id="schedule-keep-string"),
    pytest.param(schedule(retention={"maxAge": "forever"}), "maxAge", id="schedule-max-age-word"),
    pytest.param(schedule(template={"branch": "production"}), "projectId", id="schedule-template-no-project"),
    pytest.param(
        schedule(template={"projectId": "p-1", "source": {f"k{i}": "v" for i in range(65)}}),
        "source",
        id="schedule-source-65-keys",
    ),
    pytest.param(schedule(suspend="yes"), "spec.suspend", id="schedule-suspend-string"),
]


@pytest.mark.parametrize(("manifest", "field"), REJECTED)
def test_rejected_naming_the_field(
    crds: KubeControlPlane, namespace: str, manifest: dict[str, Any], field: str
) -> None:
    result = crds.kubectl(
        "-n",
        namespace,
        "apply",
        "--dry-run=server",
        "-f",
        "-",
        input=yaml.safe_dump(manifest, allow_unicode=True),
        check=False,
    )
    assert result.returncode != 0, f"accepted: {manifest}"
    assert field in result.stderr, result.stderr


def test_what_passes_the_apiserver_ends_failed_with_a_reason_and_no_traceback(harness: Harness) -> None:
    project = harness.create_project()
    harness.start_operator()
    nested = {"history": [{"prompt": "x" * 1000} for _ in range(40)]}  # 40 kB, nested: past the CRD's rules
    cases = {
        "nul-in-source": (
            ckpt("nul-in-source", projectId=project, source={"prompt": "a\u0000b"}),
            "InvalidSpec",
        ),
        "nul-in-key": (ckpt("nul-in-key", projectId=project, source={"a\u0000": "b"}), "InvalidSpec"),
        "nested-40kb": (ckpt("nested-40kb", projectId=project, source=nested), "InvalidSpec"),
        "long-key": (ckpt("long-key", projectId=project, source={"k" * 129: "v"}), "InvalidSpec"),
        "long-value": (ckpt("long-value", projectId=project, source={"p": "x" * 16385}), "InvalidSpec"),
        "no-such-project": (ckpt("no-such-project", projectId="no-such-project-42"), "NotFound"),
        "unicode-branch": (
            ckpt("unicode-branch", projectId=project, branch="prödüctiön 🚀"),
            "BranchNotFound",
        ),
        "max-name-" + "n" * 200: (ckpt("max-name-" + "n" * 200, projectId="no-such-project-42"), "NotFound"),
    }
    for manifest, _ in cases.values():
        applied = harness.apply(yaml.safe_dump(manifest, allow_unicode=True))
        assert applied.returncode == 0, applied.stderr
    deadline = time.monotonic() + 60
    pending = dict(cases)
    while pending and time.monotonic() < deadline:
        for name, (_, reason) in list(pending.items()):
            status = harness.get("checkpoint", name).get("status") or {}
            if status.get("phase") == "Failed":
                [ready] = [c for c in status["conditions"] if c["type"] == "Ready"]
                assert ready["reason"] == reason, (name, status)
                del pending[name]
        time.sleep(0.3)
    assert not pending, f"not Failed: {sorted(pending)}\n{harness.operator_logs()}"
    assert harness.snapshot_names(project) == [], "nothing invalid was snapshotted"
    assert "Traceback" not in harness.operators.logs(chars=10**7)
