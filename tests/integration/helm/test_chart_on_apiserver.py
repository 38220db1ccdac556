"""The rendered chart against the real apiserver (RBAC authorization): it passes server-side validation,
and once applied its ServiceAccount may do what the operator does and nothing more (`kubectl auth can-i
--as=...`): Secrets only in the namespaces the values name, `get` for credentials and writes only where
Preview restores are made, never in kube-system or the operator's own namespace (issue 20 item 3). Its
ValidatingAdmissionPolicy refuses a Checkpoint naming a project its namespace may not use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from devenv.controlplane import KubeControlPlane
from tests.integration.helm.chart import Helm, helm_or_skip, manifests, service_account_user

pytestmark = [pytest.mark.helm, pytest.mark.kube]

GROUP = "neoncheckpoints.dev"


@pytest.fixture(scope="module")
def helm() -> Helm:
    return Helm(helm_or_skip())


@dataclass(frozen=True)
class Install:
    release: str
    namespace: str
    values: dict[str, Any]

    @property
    def user(self) -> str:
        return service_account_user(self.namespace, f"{self.release}-neon-checkpoints")


def ensure_namespaces(kube: KubeControlPlane, *names: str) -> None:
    for name in names:
        if kube.kubectl("get", "namespace", name, check=False).returncode != 0:
            kube.kubectl("create", "namespace", name)


def apply_chart(helm: Helm, kube: KubeControlPlane, install: Install, *, dry_run: bool) -> tuple[int, str]:
    """Apply the rendered chart (CRDs included); the number of objects rendered and kubectl's output."""
    rendered = helm.template(
        install.values, release=install.release, namespace=install.namespace, include_crds=True
    ).stdout
    args = ["apply", "-f", "-"] + (["--dry-run=server"] if dry_run else [])
    return len(manifests(rendered)), kube.kubectl(*args, input=rendered).stdout


Check = tuple[str, ...]  # kubectl auth can-i arguments: verb, resource, then flags


def can_i(kube: KubeControlPlane, install: Install, check: Check) -> bool:
    result = kube.kubectl("auth", "can-i", *check, f"--as={install.user}", check=False)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), result.stderr
    return answer == "yes"


def assert_access(kube: KubeControlPlane, install: Install, expected: dict[Check, bool]) -> None:
    """Ask the apiserver about every check (a few at a time) and report every mismatch at once."""
    checks = list(expected)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = dict(zip(checks, pool.map(lambda c: can_i(kube, install, c), checks), strict=True))
    wrong = [
        f"{' '.join(c)}: {'allowed' if answers[c] else 'denied'}, expected {'allowed' if want else 'denied'}"
        for c, want in expected.items()
        if answers[c] != want
    ]
    assert not wrong, f"{install.user}:\n" + "\n".join(wrong)


def in_namespaces(checks: list[Check], namespaces: tuple[str, ...], allowed: bool) -> dict[Check, bool]:
    return {(*check, "-n", ns): allowed for check in checks for ns in namespaces}


# Cluster-wide: tenant Secrets only where listed (credentials in team-a and team-c, previews in team-a).
CLUSTER_WIDE = Install(
    "wide",
    "ckpt-wide",
    {"secrets": {"credentialsNamespaces": ["team-a", "team-c"], "previewNamespaces": ["team-a"]}},
)
NAMESPACED = Install("scoped", "ckpt-scoped", {"watchNamespaces": ["team-a", "team-b"]})


@pytest.fixture(scope="module")
def applied(helm: Helm, kube_cluster: KubeControlPlane) -> Iterator[KubeControlPlane]:
    ensure_namespaces(kube_cluster, "ckpt-wide", "ckpt-scoped", "team-a", "team-b", "team-c")
    for install in (CLUSTER_WIDE, NAMESPACED):
        apply_chart(helm, kube_cluster, install, dry_run=False)
    try:
        yield kube_cluster
    finally:
        # The admission policies would refuse other tests' Checkpoints in this session's cluster.
        for install in (CLUSTER_WIDE, NAMESPACED):
            name = f"{install.release}-neon-checkpoints-tenancy"
            kube_cluster.kubectl(
                "delete",
                "--ignore-not-found",
                f"validatingadmissionpolicybinding/{name}",
                f"validatingadmissionpolicy/{name}",
                check=False,
            )


@pytest.mark.parametrize("install", [CLUSTER_WIDE, NAMESPACED], ids=["cluster-wide", "namespaced"])
def test_rendered_chart_passes_server_side_dry_run(
    helm: Helm, kube_cluster: KubeControlPlane, install: Install
) -> None:
    ensure_namespaces(kube_cluster, install.namespace, "team-a", "team-b", "team-c")
    count, out = apply_chart(helm, kube_cluster, install, dry_run=True)
    accepted = [line for line in out.splitlines() if line.endswith("(server dry run)")]
    assert len(accepted) == count, out
    for kind in ("customresourcedefinition.apiextensions.k8s.io", "serviceaccount", "deployment.apps"):
        assert f"{kind}/" in out, out


WORKLOAD_KINDS = ("deployments.apps", "statefulsets.apps", "configmaps")

OPERATOR_NEEDS: list[Check] = [
    ("watch", f"checkpoints.{GROUP}"),
    ("get", f"checkpoints.{GROUP}"),
    ("patch", f"checkpoints.{GROUP}"),
    ("create", f"checkpoints.{GROUP}"),
    ("delete", f"checkpoints.{GROUP}"),
    ("list", f"checkpointrestores.{GROUP}"),
    ("watch", f"checkpointschedules.{GROUP}"),
    # A status write reads the conditions the server holds first (runtime/kube.py).
    ("get", f"checkpointrestores.{GROUP}"),
    ("get", f"checkpointschedules.{GROUP}"),
    ("patch", f"checkpoints.{GROUP}", "--subresource=status"),
    ("patch", f"checkpointrestores.{GROUP}", "--subresource=status"),
    ("patch", f"checkpointschedules.{GROUP}", "--subresource=status"),
    ("create", "events"),
    # Workloads (issue 14): read (list for workloadSelector), scale to zero, server-side apply, and a
    # Preview's copies (create, delete).
    *((verb, kind) for verb in ("get", "list", "patch", "create", "delete") for kind in WORKLOAD_KINDS),
]
CREDENTIALS: list[Check] = [("get", "secrets")]
PREVIEWS: list[Check] = [("create", "secrets"), ("update", "secrets"), ("delete", "secrets")]
SECRETS = CREDENTIALS + PREVIEWS
# Never the operator's: kube-system, and its own namespace (its Secret reaches it through the kubelet).
OFF_LIMITS = ("kube-system",)

NEVER: list[Check] = [
    ("list", "secrets"),
    ("watch", "secrets"),
    ("patch", "secrets"),
    ("deletecollection", "secrets"),
    ("update", f"checkpoints.{GROUP}"),
    ("deletecollection", f"checkpoints.{GROUP}"),
    ("create", f"checkpointrestores.{GROUP}"),
    ("delete", f"checkpointrestores.{GROUP}"),
    ("create", f"checkpointschedules.{GROUP}"),
    ("delete", f"checkpointschedules.{GROUP}"),
    ("update", f"checkpoints.{GROUP}", "--subresource=status"),
    ("delete", "events"),
    ("get", "pods"),
    ("create", "pods"),
    ("create", "rolebindings.rbac.authorization.k8s.io"),
    # Workloads: nothing more on the three kinds, nothing on the others.
    *((verb, kind) for verb in ("update", "watch", "deletecollection") for kind in WORKLOAD_KINDS),
    ("patch", "deployments.apps", "--subresource=scale"),
    ("patch", "replicasets.apps"),
    ("get", "daemonsets.apps"),
    ("patch", "pods"),
]

CLUSTER_NEVER: list[Check] = [
    ("delete", "customresourcedefinitions.apiextensions.k8s.io"),
    ("create", "customresourcedefinitions.apiextensions.k8s.io"),
    ("delete", "namespaces"),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
    ("delete", f"checkpointrestores.{GROUP}", "--all-namespaces"),
    ("list", "secrets", "--all-namespaces"),
    ("get", "secrets", "--all-namespaces"),
    ("create", "secrets", "--all-namespaces"),
    ("update", "namespaces"),
    ("patch", "namespaces"),
    ("*", "*"),
]


def test_cluster_wide_operator_acts_in_every_namespace_and_reads_secrets_only_where_listed(
    applied: KubeControlPlane,
) -> None:
    every = ("team-a", "team-c", "default")
    expected = {
        **in_namespaces(OPERATOR_NEEDS, every, True),
        **in_namespaces(NEVER, every, False),
        **in_namespaces(CREDENTIALS, ("team-a", "team-c"), True),
        **in_namespaces(PREVIEWS, ("team-a",), True),
        **in_namespaces(PREVIEWS, ("team-c",), False),
        **in_namespaces(SECRETS, ("team-b", "default", *OFF_LIMITS, CLUSTER_WIDE.namespace), False),
        ("watch", f"checkpoints.{GROUP}", "--all-namespaces"): True,
        ("watch", "customresourcedefinitions.apiextensions.k8s.io"): True,
        # Tenancy: each flow reads its Namespace's annotations.
        ("get", "namespaces"): True,
        # kopf does not look at Namespaces when it watches the whole cluster.
        ("list", "namespaces"): False,
        **dict.fromkeys(CLUSTER_NEVER, False),
    }
    assert_access(applied, CLUSTER_WIDE, expected)


def test_namespaced_operator_is_confined_to_its_namespaces(applied: KubeControlPlane) -> None:
    watched = ("team-a", "team-b")
    # Unwatched namespaces, its own included (its config Secret reaches it through the kubelet, not the API).
    unwatched = ("team-c", "default", *OFF_LIMITS, NAMESPACED.namespace)
    expected = {
        **in_namespaces(OPERATOR_NEEDS + SECRETS, watched, True),
        **in_namespaces(NEVER, watched, False),
        **in_namespaces(OPERATOR_NEEDS + SECRETS, unwatched, False),
        ("watch", f"checkpoints.{GROUP}", "--all-namespaces"): False,
        ("watch", "customresourcedefinitions.apiextensions.k8s.io"): True,
        ("watch", "namespaces"): True,
        ("get", "namespaces"): True,
        **dict.fromkeys(CLUSTER_NEVER, False),
    }
    assert_access(applied, NAMESPACED, expected)


def checkpoint(namespace: str, project: str, **spec: Any) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "Checkpoint",
            "metadata": {"name": "v1", "namespace": namespace},
            "spec": {"projectId": project, "branch": "production", **spec},
        }
    )


def annotate(kube: KubeControlPlane, namespace: str, **annotations: str) -> None:
    pairs = [f"{GROUP}/{k.replace('_', '-')}={v}" for k, v in annotations.items()]
    kube.kubectl("annotate", "--overwrite", "namespace", namespace, *pairs)


def test_admission_policy_refuses_projects_and_keys_a_namespace_may_not_use(
    applied: KubeControlPlane,
) -> None:
    ensure_namespaces(applied, "tenant-vap")
    own_key = {"credentialsSecretRef": {"name": "tenant-key"}}

    def apply(manifest: str) -> tuple[bool, str]:
        result = applied.kubectl("apply", "--dry-run=server", "-f", "-", input=manifest, check=False)
        return result.returncode == 0, result.stderr

    ok, err = apply(checkpoint("tenant-vap", "p-a", **own_key))
    assert not ok and "spec.projectId: Neon project p-a is not one namespace tenant-vap may use" in err, err
    annotate(applied, "tenant-vap", allowed_projects="p-b, p-c")
    ok, err = apply(checkpoint("tenant-vap", "p-a", **own_key))
    assert not ok and "spec.projectId" in err, err
    assert apply(checkpoint("tenant-vap", "p-c", **own_key)) == (True, "")
    ok, err = apply(checkpoint("tenant-vap", "p-c"))
    assert not ok and "spec.credentialsSecretRef: required in namespace tenant-vap" in err, err
    annotate(applied, "tenant-vap", default_key="allowed")
    assert apply(checkpoint("tenant-vap", "p-c")) == (True, "")
    schedule = yaml.safe_dump(
        {
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "CheckpointSchedule",
            "metadata": {"name": "nightly", "namespace": "tenant-vap"},
            "spec": {"every": "1h", "checkpointTemplate": {"spec": {"projectId": "p-a"}}},
        }
    )
    ok, err = apply(schedule)
    assert not ok and "spec.checkpointTemplate.spec.projectId: Neon project p-a" in err, err


def test_admission_policy_lets_the_operator_update_what_exists_but_not_write_a_spec(
    applied: KubeControlPlane,
) -> None:
    """matchConditions: only a CREATE or a changed spec is checked. A Checkpoint made while its namespace
    allowed its project, then the annotation removed: kopf's finalizer and annotations (a metadata-only
    update) and the status still go through, or the operator could neither reconcile nor delete it; a
    spec change or a new Checkpoint on that project is refused, naming the field."""
    namespace = "tenant-vap-since"
    ensure_namespaces(applied, namespace)
    annotate(applied, namespace, allowed_projects="p-a", default_key="allowed")
    applied.kubectl("apply", "-f", "-", input=checkpoint(namespace, "p-a"))
    applied.kubectl("annotate", "namespace", namespace, f"{GROUP}/allowed-projects-", f"{GROUP}/default-key-")

    def patch(body: dict[str, Any], *flags: str) -> tuple[bool, str]:
        result = applied.kubectl(
            "-n", namespace, "patch", "checkpoint", "v1", "--type=merge", "-p", json.dumps(body),
            *flags, check=False,
        )  # fmt: skip
        return result.returncode == 0, result.stderr

    try:
        metadata = {"finalizers": [f"{GROUP}/test"], "labels": {"seen": "yes"}, "annotations": {"k": "v"}}
        assert patch({"metadata": metadata}) == (True, "")
        assert patch({"status": {"phase": "Pending"}}, "--subresource=status") == (True, "")
        ok, err = patch({"spec": {"ttl": "2h"}})
        assert not ok and f"spec.projectId: Neon project p-a is not one namespace {namespace}" in err, err
        second = checkpoint(namespace, "p-a").replace("name: v1", "name: v2")
        created = applied.kubectl("apply", "-f", "-", input=second, check=False)
        assert created.returncode != 0, "a new Checkpoint on a project no longer allowed"
        assert "spec.projectId: Neon project p-a" in created.stderr, created.stderr
        got = applied.kubectl("-n", namespace, "get", "checkpoint", "v1", "-o", "yaml").stdout
        body = yaml.safe_load(got)
        assert body["metadata"]["finalizers"] == [f"{GROUP}/test"] and "ttl" not in body["spec"], body
        assert body["status"]["phase"] == "Pending"
    finally:
        patch({"metadata": {"finalizers": None}})
        applied.kubectl("-n", namespace, "delete", "checkpoint", "--all", "--wait=false", check=False)
