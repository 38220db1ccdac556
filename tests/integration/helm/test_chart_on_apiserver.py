"""The rendered chart against the real apiserver: it passes server-side validation, and once applied its
ServiceAccount may do what the operator does and nothing more (`kubectl auth can-i --as=...`)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

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


CLUSTER_WIDE = Install("wide", "ckpt-wide", {})
NAMESPACED = Install("scoped", "ckpt-scoped", {"watchNamespaces": ["team-a", "team-b"]})


@pytest.fixture(scope="module")
def applied(helm: Helm, kube_cluster: KubeControlPlane) -> Iterator[KubeControlPlane]:
    ensure_namespaces(kube_cluster, "ckpt-wide", "ckpt-scoped", "team-a", "team-b", "team-c")
    for install in (CLUSTER_WIDE, NAMESPACED):
        apply_chart(helm, kube_cluster, install, dry_run=False)
    yield kube_cluster


@pytest.mark.parametrize("install", [CLUSTER_WIDE, NAMESPACED], ids=["cluster-wide", "namespaced"])
def test_rendered_chart_passes_server_side_dry_run(
    helm: Helm, kube_cluster: KubeControlPlane, install: Install
) -> None:
    ensure_namespaces(kube_cluster, install.namespace, "team-a", "team-b")
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
    ("patch", f"checkpoints.{GROUP}", "--subresource=status"),
    ("patch", f"checkpointrestores.{GROUP}", "--subresource=status"),
    ("patch", f"checkpointschedules.{GROUP}", "--subresource=status"),
    ("create", "events"),
    ("get", "secrets"),
    ("create", "secrets"),
    ("update", "secrets"),
    ("delete", "secrets"),
    # Workloads (issue 14): read (list for workloadSelector), scale to zero, server-side apply, and a
    # Preview's copies (create, delete).
    *((verb, kind) for verb in ("get", "list", "patch", "create", "delete") for kind in WORKLOAD_KINDS),
]

NEVER: list[Check] = [
    ("list", "secrets"),
    ("watch", "secrets"),
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
    ("*", "*"),
]


def test_cluster_wide_operator_acts_in_every_namespace_and_no_further(applied: KubeControlPlane) -> None:
    every = ("team-a", "team-c", "default")
    expected = {
        **in_namespaces(OPERATOR_NEEDS, every, True),
        **in_namespaces(NEVER, every, False),
        ("watch", f"checkpoints.{GROUP}", "--all-namespaces"): True,
        ("watch", "customresourcedefinitions.apiextensions.k8s.io"): True,
        # kopf does not look at Namespaces when it watches the whole cluster.
        ("list", "namespaces"): False,
        **dict.fromkeys(CLUSTER_NEVER, False),
    }
    assert_access(applied, CLUSTER_WIDE, expected)


def test_namespaced_operator_is_confined_to_its_namespaces(applied: KubeControlPlane) -> None:
    watched = ("team-a", "team-b")
    # Unwatched namespaces, its own included (its config Secret reaches it through the kubelet, not the API).
    unwatched = ("team-c", "default", NAMESPACED.namespace)
    expected = {
        **in_namespaces(OPERATOR_NEEDS, watched, True),
        **in_namespaces(NEVER, watched, False),
        **in_namespaces(OPERATOR_NEEDS, unwatched, False),
        ("watch", f"checkpoints.{GROUP}", "--all-namespaces"): False,
        ("watch", "customresourcedefinitions.apiextensions.k8s.io"): True,
        ("watch", "namespaces"): True,
        **dict.fromkeys(CLUSTER_NEVER, False),
    }
    assert_access(applied, NAMESPACED, expected)
