"""The apiserver itself rejects bad Checkpoints / CheckpointRestores (issue 4 item 6, issue 5 item 7):
`kubectl apply` fails with a message naming the field. No operator needed."""

from __future__ import annotations

import itertools
import json
import textwrap
from collections.abc import Iterator

import pytest

from devenv.controlplane import KubeControlPlane

pytestmark = pytest.mark.kube

_names = itertools.count(1)


@pytest.fixture
def namespace(crds: KubeControlPlane) -> Iterator[str]:
    name = f"crd-{next(_names)}"
    crds.kubectl("create", "namespace", name)
    yield name
    crds.kubectl("delete", "namespace", name, "--wait=false", check=False)


def apply(kube: KubeControlPlane, namespace: str, manifest: str) -> tuple[int, str]:
    result = kube.kubectl("apply", "-n", namespace, "-f", "-", input=textwrap.dedent(manifest), check=False)
    return result.returncode, result.stdout + result.stderr


def checkpoint(spec: str, name: str = "c1") -> str:
    return f"""
apiVersion: neoncheckpoints.dev/v1alpha1
kind: Checkpoint
metadata: {{name: {name}}}
spec:
{textwrap.indent(textwrap.dedent(spec).strip(), "  ")}
"""


@pytest.mark.parametrize(
    ("situation", "spec", "field"),
    [
        ("no projectId", "branch: production", "spec.projectId"),
        ("projectId with capitals", "projectId: Gentle-River", "spec.projectId"),
        ("unknown deletionPolicy", "projectId: p-1\ndeletionPolicy: Keep", "spec.deletionPolicy"),
        ("ttl that is not a duration", "projectId: p-1\nttl: tomorrow", "spec.ttl"),
        ("ttl past any date", "projectId: p-1\nttl: 999999999999d", "spec.ttl"),
        ("expiresAt in the year 9999", "projectId: p-1\nexpiresAt: '9999-12-31T23:59:59Z'", "spec.expiresAt"),
        (
            "both expiresAt and ttl",
            "projectId: p-1\nttl: 1h\nexpiresAt: '2030-01-01T00:00:00Z'",
            "spec.expiresAt",
        ),
        (
            "secret ref without a name",
            "projectId: p-1\ncredentialsSecretRef: {key: k}",
            "credentialsSecretRef.name",
        ),
        (
            "workload of another kind",
            "projectId: p-1\nworkloads: [{kind: Pod, name: web}]",
            "spec.workloads[0].kind",
        ),
        (
            "workload listed twice",
            "projectId: p-1\nworkloads: [{kind: Deployment, name: web}, {kind: Deployment, name: web}]",
            "spec.workloads: each kind and name may be listed once",
        ),
        (
            "database URL on a ConfigMap",
            "projectId: p-1\nworkloads: [{kind: ConfigMap, name: q, databaseUrl: {env: DB}}]",
            "databaseUrl is only valid for a Deployment or StatefulSet",
        ),
        (
            "database URL from both an env var and a Secret key",
            "projectId: p-1\nworkloads: [{kind: Deployment, name: web,"
            " databaseUrl: {env: DB, secretKeyRef: {name: db, key: url}}}]",
            "spec.workloads[].databaseUrl: set exactly one of env or secretKeyRef",
        ),
        (
            "database URL from neither",
            "projectId: p-1\nworkloads: [{kind: Deployment, name: web, databaseUrl: {}}]",
            "spec.workloads[].databaseUrl: set exactly one of env or secretKeyRef",
        ),
        (
            "database URL Secret key without its key",
            "projectId: p-1\nworkloads: [{kind: Deployment, name: web,"
            " databaseUrl: {secretKeyRef: {name: db}}}]",
            "spec.workloads[0].databaseUrl.secretKeyRef.key",
        ),
        (
            "empty selector",
            "projectId: p-1\nworkloadSelector: {matchLabels: {}}",
            "spec.workloadSelector.matchLabels",
        ),
    ],
)
def test_invalid_checkpoint_is_rejected_naming_the_field(
    crds: KubeControlPlane, namespace: str, situation: str, spec: str, field: str
) -> None:
    code, output = apply(crds, namespace, checkpoint(spec))
    assert code != 0, situation
    assert field in output, output


def test_a_database_url_may_name_a_secret_key(crds: KubeControlPlane, namespace: str) -> None:
    spec = (
        "projectId: p-1\nworkloads: [{kind: Deployment, name: web,"
        " databaseUrl: {secretKeyRef: {name: db, key: url}}}]"
    )
    code, output = apply(crds, namespace, checkpoint(spec))
    assert code == 0, output


def test_defaults_are_filled_in(crds: KubeControlPlane, namespace: str) -> None:
    code, output = apply(crds, namespace, checkpoint("projectId: p-1\ncredentialsSecretRef: {name: neon}"))
    assert code == 0, output
    spec = json.loads(crds.kubectl("get", "-n", namespace, "ckpt", "c1", "-o", "json").stdout)["spec"]
    assert spec["deletionPolicy"] == "Delete"
    assert spec["credentialsSecretRef"] == {"name": "neon", "key": "apiKey"}


@pytest.mark.parametrize(
    ("situation", "before", "after", "field"),
    [
        ("projectId changed", "projectId: p-1", "projectId: p-2", "spec.projectId is immutable"),
        (
            "branch changed",
            "projectId: p-1\nbranch: main",
            "projectId: p-1\nbranch: dev",
            "spec.branch is immutable",
        ),
        ("branch added", "projectId: p-1", "projectId: p-1\nbranch: dev", "spec.branch is immutable"),
        (
            "source changed",
            "projectId: p-1\nsource: {commit: abc, prompt: one}",
            "projectId: p-1\nsource: {commit: abc, prompt: two}",
            "spec.source is immutable",
        ),
        (
            "workloads changed",
            "projectId: p-1\nworkloads: [{kind: Deployment, name: web}]",
            "projectId: p-1\nworkloads: [{kind: Deployment, name: api}]",
            "spec.workloads is immutable",
        ),
    ],
)
def test_identity_fields_are_immutable(
    crds: KubeControlPlane, namespace: str, situation: str, before: str, after: str, field: str
) -> None:
    code, output = apply(crds, namespace, checkpoint(before))
    assert code == 0, output
    code, output = apply(crds, namespace, checkpoint(after))
    assert code != 0, situation
    assert field in output, output


def test_mutable_fields_can_change(crds: KubeControlPlane, namespace: str) -> None:
    assert apply(crds, namespace, checkpoint("projectId: p-1\nsource: {commit: abc}"))[0] == 0
    code, output = apply(
        crds, namespace, checkpoint("projectId: p-1\nsource: {commit: abc}\ndeletionPolicy: Retain")
    )
    assert code == 0, output


def test_printer_columns(crds: KubeControlPlane, namespace: str) -> None:
    assert apply(crds, namespace, checkpoint("projectId: p-1\nsource: {commit: 3f2c9e1}"))[0] == 0
    header, row = crds.kubectl("get", "-n", namespace, "ckpt").stdout.splitlines()
    assert header.split() == ["NAME", "PHASE", "SNAPSHOT", "SOURCE", "AGE"]
    assert row.split()[:2] == ["c1", "3f2c9e1"]
    wide = crds.kubectl("get", "-n", namespace, "ckpt", "-o", "wide").stdout.splitlines()[0]
    assert wide.split() == [
        "NAME",
        "PHASE",
        "SNAPSHOT",
        "SOURCE",
        "AGE",
        "READY",
        "DURATION",
        "SIZE",
        "STALLED",
        "MESSAGE",
    ]


def restore(spec: str, name: str = "r1") -> str:
    return f"""
apiVersion: neoncheckpoints.dev/v1alpha1
kind: CheckpointRestore
metadata: {{name: {name}}}
spec:
{textwrap.indent(textwrap.dedent(spec).strip(), "  ")}
"""


@pytest.mark.parametrize(
    ("situation", "spec", "field"),
    [
        ("no checkpointRef", "mode: Finalize", "spec.checkpointRef"),
        ("unknown mode", "checkpointRef: {name: v1}\nmode: Rewind", "spec.mode"),
        (
            "unknown oldBranchPolicy",
            "checkpointRef: {name: v1}\noldBranchPolicy: Keep",
            "spec.oldBranchPolicy",
        ),
        (
            "secret name on a Finalize",
            "checkpointRef: {name: v1}\npreviewSecretName: s",
            "spec.previewSecretName",
        ),
        (
            "both a checkpoint and an undo",
            "checkpointRef: {name: v1}\nundo: {restoreRef: {name: r0}}",
            "set exactly one of spec.checkpointRef and spec.undo",
        ),
        ("an undo in Preview", "undo: {restoreRef: {name: r0}}\nmode: Preview", "spec.mode must be Finalize"),
        ("unknown workloads policy", "checkpointRef: {name: v1}\nworkloads: Skip", "spec.workloads"),
        (
            "waitForReady past an hour",
            "checkpointRef: {name: v1}\nwaitForReady: {timeoutSeconds: 7200}",
            "spec.waitForReady.timeoutSeconds",
        ),
    ],
)
def test_invalid_restore_is_rejected(
    crds: KubeControlPlane, namespace: str, situation: str, spec: str, field: str
) -> None:
    code, output = apply(crds, namespace, restore(spec))
    assert code != 0, situation
    assert field in output, output


def test_restore_spec_is_immutable_and_defaulted(crds: KubeControlPlane, namespace: str) -> None:
    assert apply(crds, namespace, restore("checkpointRef: {name: v1}"))[0] == 0
    spec = json.loads(crds.kubectl("get", "-n", namespace, "checkpointrestore", "r1", "-o", "json").stdout)[
        "spec"
    ]
    assert spec["mode"] == "Finalize" and spec["oldBranchPolicy"] == "Retain"
    code, output = apply(crds, namespace, restore("checkpointRef: {name: v2}"))
    assert code != 0
    assert "spec is immutable" in output
    header = crds.kubectl("get", "-n", namespace, "checkpointrestore").stdout.splitlines()[0]
    assert header.split() == ["NAME", "PHASE", "CHECKPOINT", "MODE", "AGE"]
