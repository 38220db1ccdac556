"""Tenancy end to end (issue 20 item 2): the operator run as the chart runs it (`enforced`), the real
apiserver, the emulator with two accounts (each key sees only its own projects, as Neon's). Tenant B cannot
snapshot tenant A's project, with the operator's default key or with its own, nor restore, preview or clean
up A's project through a Checkpoint its namespace once was allowed; A works as before."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from devenv.controlplane import KubeControlPlane
from devenv.emulator import EmulatorServer
from neon_api import NeonClient
from tests.support.operator import Operators

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]

GROUP = "neoncheckpoints.dev"
FINAL = {"Ready", "Succeeded", "Failed"}


class Cluster:
    def __init__(self, kube: KubeControlPlane, operators: Operators) -> None:
        self.kube, self.operators = kube, operators

    def apply(self, namespace: str, doc: dict[str, Any]) -> None:
        doc = {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}
        self.kube.kubectl("apply", "-f", "-", input=yaml.safe_dump(doc))

    def checkpoint(self, namespace: str, name: str, project: str, *, key: str | None = None) -> None:
        spec: dict[str, Any] = {"projectId": project, "branch": "production", "source": {"by": namespace}}
        if key:
            spec["credentialsSecretRef"] = {"name": key}
        self.apply(
            namespace,
            {
                "apiVersion": f"{GROUP}/v1alpha1",
                "kind": "Checkpoint",
                "metadata": {"name": name},
                "spec": spec,
            },
        )

    def restore(self, namespace: str, name: str, checkpoint: str, mode: str) -> None:
        self.apply(
            namespace,
            {
                "apiVersion": f"{GROUP}/v1alpha1",
                "kind": "CheckpointRestore",
                "metadata": {"name": name},
                "spec": {"checkpointRef": {"name": checkpoint}, "mode": mode},
            },
        )

    def annotate(self, namespace: str, projects: str, *, default_key: bool) -> None:
        self.kube.kubectl(
            "annotate",
            "--overwrite",
            "namespace",
            namespace,
            f"{GROUP}/allowed-projects={projects}",
            f"{GROUP}/default-key={'allowed' if default_key else 'denied'}",
        )

    def get(self, namespace: str, kind: str, name: str) -> dict[str, Any]:
        out = self.kube.kubectl("-n", namespace, "get", kind, name, "-o", "json")
        body: dict[str, Any] = json.loads(out.stdout)
        return body

    def finished(self, namespace: str, kind: str, name: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.get(namespace, kind, name).get("status") or {}
            if status.get("phase") in FINAL:
                return status
            time.sleep(0.2)
        raise AssertionError(f"{kind} {namespace}/{name}: {status}\n{self.operators.logs()}")

    def refused(self, namespace: str, kind: str, name: str) -> str:
        status = self.finished(namespace, kind, name)
        reasons = {c["type"]: c["reason"] for c in status.get("conditions") or []}
        assert status["phase"] == "Failed", status
        assert "ProjectNotAllowed" in reasons.values(), status
        return str(status["message"])


@pytest.fixture
def tenants(kube_cluster: KubeControlPlane) -> Iterator[tuple[str, str]]:
    kube_cluster.apply_crds()
    suffix = f"{os.getpid()}-{secrets.token_hex(2)}"  # two tests of one session: fresh namespaces each
    names = (f"tenant-a-{suffix}", f"tenant-b-{suffix}")
    for ns in names:
        kube_cluster.kubectl("create", "namespace", ns)
    yield names
    for ns in names:
        for kind in ("checkpoints", "checkpointrestores"):
            kube_cluster.kubectl(
                "-n",
                ns,
                "patch",
                kind,
                "--all",
                "--type=merge",
                "-p",
                '{"metadata":{"finalizers":null}}',
                check=False,
            )
        kube_cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def make_project(url: str, key: str, name: str) -> str:
    with NeonClient(url, key) as neon:
        created = neon.create_project(name=name, branch_name="production")
        neon.wait_for_operations(created.project.id, created.operations, timeout=60)
        return created.project.id


def neon_state(url: str, key: str, project: str) -> tuple[list[str], dict[str, str]]:
    """A project's snapshot ids and branch name -> id, as its owner's key sees them."""
    with NeonClient(url, key) as neon:
        return (
            sorted(s.id for s in neon.list_snapshots(project)),
            {b.name: b.id for b in neon.list_branches(project)},
        )


def test_tenant_b_cannot_snapshot_restore_preview_or_clean_up_tenant_a_project(
    kube_cluster: KubeControlPlane,
    emulator: EmulatorServer,
    operators: Operators,
    tenants: tuple[str, str],
) -> None:
    a, b = tenants
    key_b = "napi_tenant_b_" + secrets.token_hex(8)
    with emulator.admin() as admin:
        admin.post("/api-keys", json={"key": key_b}).raise_for_status()
    # A's project is reached by the operator's default key (an organisation key); B's only by B's key.
    project_a = make_project(emulator.url, emulator.api_key, "tenant-a-app")
    project_b = make_project(emulator.url, key_b, "tenant-b-app")
    cluster = Cluster(kube_cluster, operators)
    cluster.annotate(a, project_a, default_key=True)
    cluster.annotate(b, project_b, default_key=False)
    kube_cluster.kubectl("-n", b, "create", "secret", "generic", "b-key", f"--from-literal=apiKey={key_b}")
    operators.start(a, b, NEON_CHECKPOINTS_TENANCY="enforced")

    cluster.checkpoint(a, "a1", project_a)
    assert cluster.finished(a, "checkpoint", "a1")["phase"] == "Ready"
    cluster.checkpoint(b, "b1", project_b, key="b-key")
    assert cluster.finished(b, "checkpoint", "b1")["phase"] == "Ready"
    before = neon_state(emulator.url, emulator.api_key, project_a)

    # B on A's project: with the default key, and with its own.
    cluster.checkpoint(b, "steal-default", project_a)
    cluster.checkpoint(b, "steal-own", project_a, key="b-key")
    assert project_a in cluster.refused(b, "checkpoint", "steal-default")
    assert project_a in cluster.refused(b, "checkpoint", "steal-own")
    # B's own project with the default key: the namespace may not have it serve B.
    cluster.checkpoint(b, "b-default-key", project_b)
    assert "default Neon key" in cluster.refused(b, "checkpoint", "b-default-key")
    assert neon_state(emulator.url, emulator.api_key, project_a) == before

    # A Checkpoint of A's project that B once was allowed (an admin's mistake, since corrected): its
    # restores, Finalize (the undo of later changes) and Preview, fail; deleting it asks Neon nothing.
    cluster.annotate(b, f"{project_b},{project_a}", default_key=True)
    cluster.checkpoint(b, "was-allowed", project_a)
    assert cluster.finished(b, "checkpoint", "was-allowed")["phase"] == "Ready"
    cluster.annotate(b, project_b, default_key=False)
    before = neon_state(emulator.url, emulator.api_key, project_a)
    cluster.restore(b, "undo-a", "was-allowed", "Finalize")
    cluster.restore(b, "peek-a", "was-allowed", "Preview")
    assert project_a in cluster.refused(b, "checkpointrestore", "undo-a")
    assert project_a in cluster.refused(b, "checkpointrestore", "peek-a")
    for kind, name in [
        ("checkpointrestore", "undo-a"),
        ("checkpointrestore", "peek-a"),
        ("checkpoint", "was-allowed"),
    ]:
        deleted = kube_cluster.kubectl("-n", b, "delete", kind, name, "--timeout=20s", check=False)
        assert deleted.returncode == 0, deleted.stderr + operators.logs()
    after = neon_state(emulator.url, emulator.api_key, project_a)
    assert after == before, "nothing changed in A's project: no restore, no preview branch, no delete"
    left = json.loads(
        kube_cluster.kubectl(
            "-n", b, "get", "events", "--field-selector", "reason=SnapshotLeftBehind", "-o", "json"
        ).stdout
    )["items"]
    assert [e["involvedObject"]["name"] for e in left] == ["was-allowed"]

    # A still works: a restore of its own checkpoint succeeds.
    cluster.restore(a, "a-back", "a1", "Finalize")
    assert cluster.finished(a, "checkpointrestore", "a-back")["phase"] == "Succeeded"
    assert "Traceback" not in operators.logs(chars=10**7)


def undo(namespace: str, name: str, of: str, *, key: str | None = None, of_namespace: str = "") -> str:
    ref = {"name": of, **({"namespace": of_namespace} if of_namespace else {})}
    spec: dict[str, Any] = {"undo": {"restoreRef": ref}, "mode": "Finalize"}
    if key:
        spec["credentialsSecretRef"] = {"name": key}
    return yaml.safe_dump(
        {
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "CheckpointRestore",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
    )


def neon_calls_on(emulator: EmulatorServer, project: str) -> dict[str, int]:
    """The API calls on `project` since the last reset, as the emulator counted them."""
    with emulator.admin() as admin:
        counted: dict[str, int] = admin.get("/requests").raise_for_status().json()["requests"]
    return {call: n for call, n in counted.items() if f"/projects/{project}" in call}


def test_tenant_b_cannot_undo_a_restore_of_tenant_a_project(
    kube_cluster: KubeControlPlane,
    emulator: EmulatorServer,
    operators: Operators,
    tenants: tuple[str, str],
) -> None:
    """Undo (spec.undo.restoreRef) goes through the same credential resolver: B cannot undo a finalized
    restore of A's project, with the default key or with its own, and no Neon call is made on A's
    project; a restore in A's namespace cannot be named from B's; A's own undo works."""
    a, b = tenants
    key_b = "napi_tenant_b_" + secrets.token_hex(8)
    with emulator.admin() as admin:
        admin.post("/api-keys", json={"key": key_b}).raise_for_status()
    project_a = make_project(emulator.url, emulator.api_key, "tenant-a-app")
    project_b = make_project(emulator.url, key_b, "tenant-b-app")
    cluster = Cluster(kube_cluster, operators)
    cluster.annotate(a, project_a, default_key=True)
    # An admin's mistake, since corrected: B could use A's project, and finalized a restore of it.
    cluster.annotate(b, f"{project_b},{project_a}", default_key=True)
    kube_cluster.kubectl("-n", b, "create", "secret", "generic", "b-key", f"--from-literal=apiKey={key_b}")
    operators.start(a, b, NEON_CHECKPOINTS_TENANCY="enforced")

    cluster.checkpoint(a, "a1", project_a)
    cluster.checkpoint(b, "b-on-a", project_a)
    assert cluster.finished(a, "checkpoint", "a1")["phase"] == "Ready"
    assert cluster.finished(b, "checkpoint", "b-on-a")["phase"] == "Ready"
    cluster.restore(b, "b-back", "b-on-a", "Finalize")
    assert cluster.finished(b, "checkpointrestore", "b-back", timeout=90)["phase"] == "Succeeded"
    cluster.restore(a, "a-back", "a1", "Finalize")
    assert cluster.finished(a, "checkpointrestore", "a-back", timeout=90)["phase"] == "Succeeded"
    cluster.annotate(b, project_b, default_key=False)
    for namespace, name in ((a, "a1"), (b, "b-on-a")):  # the schema daemons' reads of A's project, done
        kube_cluster.kubectl(
            "-n", namespace, "wait", "--for=condition=SchemaCaptured", "--timeout=60s", f"checkpoint/{name}"
        )
    before = neon_state(emulator.url, emulator.api_key, project_a)
    with emulator.admin() as admin:
        admin.post("/reset-requests").raise_for_status()

    # B undoes its own (past) restore of A's project: refused before any Neon call, whichever key.
    for name, key in (("undo-default", None), ("undo-own", "b-key")):
        kube_cluster.kubectl("apply", "-f", "-", input=undo(b, name, "b-back", key=key))
    assert project_a in cluster.refused(b, "checkpointrestore", "undo-default")
    assert project_a in cluster.refused(b, "checkpointrestore", "undo-own")
    # A restore of A's namespace: restoreRef has no namespace (the apiserver refuses the field), and a
    # name resolves in B's own namespace only, even where A's meta rows hold that name.
    named = kube_cluster.kubectl(
        "apply", "-f", "-", input=undo(b, "undo-across", "a-back", of_namespace=a), check=False
    )
    assert named.returncode != 0 and "restoreRef.namespace" in named.stderr, named.stderr
    kube_cluster.kubectl("apply", "-f", "-", input=undo(b, "undo-a-name", "a-back"))
    status = cluster.finished(b, "checkpointrestore", "undo-a-name")
    assert status["phase"] == "Failed" and f"{b}/a-back not found" in status["message"], status
    assert neon_calls_on(emulator, project_a) == {}, "B's undos reached Neon on A's project"
    assert neon_state(emulator.url, emulator.api_key, project_a) == before

    # A's own undo of its restore works.
    kube_cluster.kubectl("apply", "-f", "-", input=undo(a, "a-undo", "a-back"))
    assert cluster.finished(a, "checkpointrestore", "a-undo", timeout=90)["phase"] == "Succeeded"
    assert neon_state(emulator.url, emulator.api_key, project_a) != before
    assert "Traceback" not in operators.logs(chars=10**7)
