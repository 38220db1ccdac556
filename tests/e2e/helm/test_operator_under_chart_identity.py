"""The chart's RBAC is sufficient, not just small: the operator runs as the chart's Deployment configures it
(its args and env, the Secret's values filled in) under the chart's ServiceAccount identity (a kubeconfig
holding a token from `kubectl create token`), and a Checkpoint becomes Ready and is deleted again."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from devenv.controlplane import KubeControlPlane
from devenv.emulator import EmulatorServer
from devenv.operator_process import OperatorProcess, start_operator
from devenv.processes import free_port
from devenv.tools import REPO_ROOT
from neon_api import NeonClient
from tests.integration.helm.chart import Helm, find, helm_or_skip, manifests

pytestmark = [pytest.mark.helm, pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]

SECRET_NAME = "neon-checkpoints"
# What kopf and the kubernetes client say when RBAC refuses them.
PERMISSION_PROBLEMS = ("Not enough permissions", "Forbidden", "forbidden", " 403")
# A 403 that is not RBAC: the apiserver refuses new objects in a namespace being deleted (a cluster-wide
# operator in a shared test cluster sees other tests' namespaces go away).
NOT_RBAC = ("NamespaceTerminating",)


@dataclass(frozen=True)
class Mode:
    release: str
    namespace: str
    apps: str
    namespaced: bool

    @property
    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = {"existingSecret": {"name": SECRET_NAME}, "logLevel": "INFO"}
        if self.namespaced:
            values["watchNamespaces"] = [self.apps]
        else:  # every namespace is watched, but Secrets only where listed
            values["secrets"] = {"credentialsNamespaces": [self.apps], "previewNamespaces": [self.apps]}
        return values


MODES = [
    pytest.param(Mode("e2e-wide", "e2e-wide-system", "e2e-wide-apps", False), id="cluster-wide"),
    pytest.param(Mode("e2e-scoped", "e2e-scoped-system", "e2e-scoped-apps", True), id="namespaced"),
]


@dataclass
class Installed:
    kube: KubeControlPlane
    mode: Mode
    deployment: dict[str, Any]
    service_account: str
    rendered: str

    def token_kubeconfig(self, path: Path) -> Path:
        """A kubeconfig for the chart's ServiceAccount: the admin's cluster entry, the SA's bearer token."""
        token = self.kube.kubectl(
            "-n", self.mode.namespace, "create", "token", self.service_account, "--duration=1h"
        ).stdout.strip()
        admin = yaml.safe_load(self.kube.kubeconfig.read_text())
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": admin["clusters"],
                    "users": [{"name": "operator", "user": {"token": token}}],
                    "contexts": [{"name": "operator", "context": {"cluster": "local", "user": "operator"}}],
                    "current-context": "operator",
                }
            )
        )
        path.chmod(0o600)
        return path


@pytest.fixture(scope="module")
def helm() -> Helm:
    return Helm(helm_or_skip())


@pytest.fixture(params=MODES)
def installed(
    request: pytest.FixtureRequest, helm: Helm, kube_cluster: KubeControlPlane
) -> Iterator[Installed]:
    mode: Mode = request.param
    for ns in (mode.namespace, mode.apps):
        kube_cluster.kubectl("create", "namespace", ns)
    rendered = helm.template(mode.values, release=mode.release, namespace=mode.namespace, include_crds=True)
    kube_cluster.kubectl("apply", "-f", "-", input=rendered.stdout)
    for crd in ("checkpoints", "checkpointrestores"):
        kube_cluster.kubectl(
            "wait", "--for=condition=Established", f"crd/{crd}.neoncheckpoints.dev", "--timeout=30s"
        )
    docs = manifests(rendered.stdout)
    (deployment,) = find(docs, "Deployment")
    (account,) = find(docs, "ServiceAccount")
    without_crds = "---\n".join(yaml.safe_dump(d) for d in docs if d["kind"] != "CustomResourceDefinition")
    try:
        yield Installed(kube_cluster, mode, deployment, account["metadata"]["name"], without_crds)
    finally:
        # Nothing may keep the namespaces from going: drop finalizers left by a failed run.
        kube_cluster.kubectl(
            "-n",
            mode.apps,
            "patch",
            "checkpoints",
            "--all",
            "--type=merge",
            "-p",
            '{"metadata":{"finalizers":[]}}',
            check=False,
        )
        kube_cluster.kubectl(
            "delete", "--ignore-not-found", "--wait=false", "-f", "-", input=without_crds, check=False
        )
        for ns in (mode.apps, mode.namespace):
            kube_cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def container_command(
    deployment: dict[str, Any], secret: dict[str, str], health_port: int
) -> tuple[list[str], dict[str, str]]:
    """The container's args and env as the kubelet would resolve them, on loopback instead of 0.0.0.0."""
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for var in container["env"]:
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            assert ref["name"] == SECRET_NAME
            env[var["name"]] = secret[ref["key"]]
    port = container["ports"][0]["containerPort"]
    args = [a.replace(f"0.0.0.0:{port}", f"127.0.0.1:{health_port}") for a in container["args"]]
    return args, env


@pytest.fixture
def operator(
    installed: Installed, emulator: EmulatorServer, fresh_database: str, tmp_path: Path
) -> Iterator[OperatorProcess]:
    """The operator as the chart's Deployment runs it, healthy, under the chart's ServiceAccount."""
    secret = {"NEON_API_KEY": emulator.api_key, "META_DATABASE_URL": fresh_database}
    health_port = free_port()
    args, env = container_command(installed.deployment, secret, health_port)
    env.pop("NEON_API_URL", None)  # the chart's default points at real Neon
    # The chart turns metrics on; here they go to loopback too.
    metrics_port = free_port()
    assert "NEON_CHECKPOINTS_METRICS_PORT" in env
    env.update(NEON_CHECKPOINTS_METRICS_PORT=str(metrics_port), NEON_CHECKPOINTS_METRICS_ADDRESS="127.0.0.1")
    op = start_operator(
        neon_api_url=emulator.url,
        neon_api_key=env.pop("NEON_API_KEY"),  # as the chart reads them from the Secret
        meta_database_url=env.pop("META_DATABASE_URL"),
        kubeconfig=installed.token_kubeconfig(tmp_path / "operator.kubeconfig"),
        log_path=tmp_path / "operator.log",
        settings=env,
        args=args,
        health_port=health_port,
        environ={k: v for k, v in os.environ.items() if k not in ("KUBERNETES_SERVICE_HOST",)},
    )
    try:
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        assert metrics.status_code == 200 and "neon_checkpoints_resources" in metrics.text, metrics.text[:500]
        yield op
    finally:
        op.stop()


def create_project(emulator: EmulatorServer, name: str) -> str:
    with NeonClient(emulator.url, emulator.api_key) as neon:
        created = neon.create_project(name=name, branch_name="production")
        neon.wait_for_operations(created.project.id, created.operations, timeout=60)
        return created.project.id


def snapshot_ids(emulator: EmulatorServer, project_id: str) -> set[str]:
    with NeonClient(emulator.url, emulator.api_key) as neon:
        return {s.id for s in neon.list_snapshots(project_id)}


def wait_restore_phase(
    installed: Installed, name: str, op: OperatorProcess, timeout: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        out = installed.kube.kubectl(
            "-n", installed.mode.apps, "get", "checkpointrestore", name, "-o", "json"
        )
        body = json.loads(out.stdout)
        if body.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return body
        time.sleep(0.3)
    raise AssertionError(f"{name} never finished: {body.get('status')}\n{op.log()[-4000:]}")


def example(name: str, project_id: str, **replace: str) -> str:
    text = (REPO_ROOT / "examples" / name).read_text().replace("gentle-river-202020", project_id)
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def test_checkpoints_become_ready_and_are_deleted_under_the_chart_service_account(
    installed: Installed, operator: OperatorProcess, emulator: EmulatorServer
) -> None:
    """Two Checkpoints: one with the operator's key, one with a tenant key read from a Secret in the watched
    namespace (examples/checkpoint-tenant-key.yaml), so the Secret read goes through RBAC too; then a Preview
    restore, which writes a Secret and deletes it again."""
    kube, apps = installed.kube, installed.mode.apps
    project_id = create_project(emulator, f"helm-{installed.mode.release}")
    # The chart enforces tenancy: the apps namespace may use this project, with the operator's key too.
    kube.kubectl(
        "annotate",
        "namespace",
        apps,
        f"neoncheckpoints.dev/allowed-projects={project_id}",
        "neoncheckpoints.dev/default-key=allowed",
    )
    names = ("v1", "before-migration")

    kube.kubectl("-n", apps, "apply", "-f", "-", input=example("checkpoint.yaml", project_id))
    tenant = example("checkpoint-tenant-key.yaml", project_id, napi_replace_me=emulator.api_key)
    kube.kubectl("-n", apps, "apply", "-f", "-", input=tenant)
    snapshots: dict[str, str] = {}
    for name in names:
        ready = kube.kubectl(
            "-n",
            apps,
            "wait",
            "--for=condition=Ready",
            f"checkpoint/{name}",
            "--timeout=90s",
            check=False,
            timeout=120,
        )
        assert ready.returncode == 0, f"{name}: {ready.stderr}\n{operator.log()[-4000:]}"
        body = json.loads(kube.kubectl("-n", apps, "get", "checkpoint", name, "-o", "json").stdout)
        assert body["status"]["phase"] == "Ready"
        snapshots[name] = body["status"]["snapshotId"]
    assert set(snapshots.values()) <= snapshot_ids(emulator, project_id)
    assert len(set(snapshots.values())) == 2
    # The operator's Events reached the apiserver under its identity.
    events = json.loads(
        kube.kubectl(
            "-n", apps, "get", "events", "--field-selector", "involvedObject.name=v1", "-o", "json"
        ).stdout
    )["items"]
    assert events, "no Event for the Checkpoint"

    # A Preview restore writes its connection-URI Secret; deleting the restore deletes branch and Secret.
    preview = example(
        "checkpointrestore-preview.yaml", project_id, **{"name: v2": "name: v1", "v2-preview": "v1-preview"}
    )
    kube.kubectl("-n", apps, "apply", "-f", "-", input=preview)
    restore = wait_restore_phase(installed, "preview-v2", operator)
    assert restore["status"]["phase"] == "Succeeded", restore["status"]
    secret = json.loads(kube.kubectl("-n", apps, "get", "secret", "v1-preview", "-o", "json").stdout)
    assert "uri" in secret["data"]
    assert secret["metadata"]["ownerReferences"][0]["uid"] == restore["metadata"]["uid"]
    kube.kubectl("-n", apps, "delete", "checkpointrestore", "preview-v2", "--wait=false")
    gone = kube.kubectl(
        "-n",
        apps,
        "wait",
        "--for=delete",
        "checkpointrestore/preview-v2",
        "--timeout=60s",
        check=False,
        timeout=90,
    )
    assert gone.returncode == 0, f"{gone.stderr}\n{operator.log()[-4000:]}"

    # Deleting goes through the operator's finalizer: the snapshots go (deletionPolicy defaults to Delete).
    kube.kubectl("-n", apps, "delete", "checkpoint", *names, "--wait=false")
    for name in names:
        gone = kube.kubectl(
            "-n", apps, "wait", "--for=delete", f"checkpoint/{name}", "--timeout=60s", check=False
        )
        assert gone.returncode == 0, f"{name}: {gone.stderr}\n{operator.log()[-4000:]}"
    assert not set(snapshots.values()) & snapshot_ids(emulator, project_id)

    log = operator.log()
    problems = [
        line
        for line in log.splitlines()
        if any(p in line for p in PERMISSION_PROBLEMS) and not any(p in line for p in NOT_RBAC)
    ]
    assert not problems, "\n".join(problems)
