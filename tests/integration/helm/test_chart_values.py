"""The chart renders what the operator needs from its values, and values.schema.json turns bad values away
with a message that names the value."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.helm.chart import Helm, find, helm_or_skip, manifests

pytestmark = pytest.mark.helm

RELEASE = "ckpt"
NAMESPACE = "ckpt-system"


@pytest.fixture(scope="module")
def helm() -> Helm:
    return Helm(helm_or_skip())


def render(helm: Helm, **values: Any) -> list[dict[str, Any]]:
    return manifests(helm.template(values, release=RELEASE, namespace=NAMESPACE).stdout)


def test_lint_passes_with_default_values_and_with_a_namespace_list(helm: Helm) -> None:
    for values in ({}, {"watchNamespaces": ["team-a", "team-b"], "logLevel": "DEBUG"}):
        result = helm.lint(values)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 chart(s) failed" in result.stdout


def test_deployment_runs_one_hardened_operator_configured_from_values(helm: Helm) -> None:
    docs = render(
        helm,
        neon={"apiUrl": "http://127.0.0.1:4444/api/v2"},
        existingSecret={"name": "neon-creds", "apiKeyKey": "key", "metaDatabaseUrlKey": "meta"},
        watchNamespaces=["team-a", "team-b"],
        logLevel="WARNING",
        image={"repository": "registry.local/ckpt", "tag": "1.2.3", "pullPolicy": "Always"},
        extraEnv=[{"name": "NEON_CHECKPOINTS_KEEP_OLD_BRANCHES", "value": "3"}],
    )
    (deployment,) = find(docs, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["image"] == "registry.local/ckpt:1.2.3"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["resources"]["limits"]["memory"]
    assert container["resources"]["requests"]["cpu"]

    env = {e["name"]: e for e in container["env"]}
    assert env["NEON_API_URL"]["value"] == "http://127.0.0.1:4444/api/v2"
    assert env["NEON_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "neon-creds", "key": "key"}
    assert env["META_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "neon-creds", "key": "meta"}
    assert env["WATCH_NAMESPACES"]["value"] == "team-a,team-b"
    assert env["LOG_LEVEL"]["value"] == "WARNING"
    assert env["NEON_OPERATION_POLL_INTERVAL"]["value"] == "0.25"
    assert env["NEON_CHECKPOINTS_KEEP_OLD_BRANCHES"]["value"] == "3"

    health_port = container["ports"][0]["containerPort"]
    assert f"--liveness=http://0.0.0.0:{health_port}/healthz" in container["args"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_cluster_wide_by_default(helm: Helm) -> None:
    docs = render(helm)
    (deployment,) = find(docs, "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["WATCH_NAMESPACES"]["value"] == ""
    assert not list(find(docs, "Role"))
    (binding,) = find(docs, "ClusterRoleBinding", "ckpt-neon-checkpoints")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "ckpt-neon-checkpoints", "namespace": NAMESPACE}
    ]


def test_a_namespace_list_gets_one_role_per_namespace_and_no_cluster_wide_secrets(helm: Helm) -> None:
    docs = render(helm, watchNamespaces=["team-a", "team-b"])
    roles = sorted((r["metadata"]["namespace"], r["metadata"]["name"]) for r in find(docs, "Role"))
    assert roles == [
        (ns, f"ckpt-neon-checkpoints{suffix}") for ns in ("team-a", "team-b") for suffix in ("", "-workloads")
    ]
    bindings = sorted((b["metadata"]["namespace"], b["roleRef"]["name"]) for b in find(docs, "RoleBinding"))
    assert bindings == [
        (ns, f"ckpt-neon-checkpoints{suffix}")
        for ns in ("team-a", "team-b")
        for suffix in ("", "-credentials", "-previews", "-workloads")
    ]
    roles = {r["metadata"]["name"]: r for r in find(docs, "ClusterRole")}
    for binding in find(docs, "ClusterRoleBinding"):
        role = roles[binding["roleRef"]["name"]]
        resources = {res for rule in role["rules"] for res in rule["resources"]}
        assert resources <= {"customresourcedefinitions", "namespaces"}, role["metadata"]["name"]


def test_secrets_are_never_granted_in_kube_system_or_the_release_namespace(helm: Helm) -> None:
    for values in (
        {"secrets": {"credentialsNamespaces": ["kube-system"]}},
        {"secrets": {"previewNamespaces": [NAMESPACE]}},
        {"watchNamespaces": ["team-a", NAMESPACE]},
    ):
        result = helm.template(values, release=RELEASE, namespace=NAMESPACE, check=False)
        assert result.returncode != 0 and "never granted Secrets" in result.stderr, values


def test_cluster_wide_grants_no_secrets_unless_namespaces_are_listed(helm: Helm) -> None:
    docs = render(helm)
    assert not list(find(docs, "RoleBinding"))
    docs = render(helm, secrets={"credentialsNamespaces": ["team-a"], "previewNamespaces": []})
    assert [(b["metadata"]["namespace"], b["roleRef"]["name"]) for b in find(docs, "RoleBinding")] == [
        ("team-a", "ckpt-neon-checkpoints-credentials")
    ]


def test_tenancy_is_enforced_by_default_with_an_admission_policy(helm: Helm) -> None:
    docs = render(helm)
    (deployment,) = find(docs, "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["NEON_CHECKPOINTS_TENANCY"]["value"] == "enforced"
    assert list(find(docs, "ValidatingAdmissionPolicy")) and list(
        find(docs, "ValidatingAdmissionPolicyBinding")
    )
    docs = render(helm, tenancy={"mode": "open"})
    (deployment,) = find(docs, "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["NEON_CHECKPOINTS_TENANCY"]["value"] == "open"
    assert not list(find(docs, "ValidatingAdmissionPolicy"))


BAD_VALUES = [
    pytest.param({"logLevel": "verbose"}, "logLevel", id="log-level-not-in-enum"),
    pytest.param({"watchNamespaces": ["Team_A"]}, "watchNamespaces", id="namespace-not-a-dns-label"),
    pytest.param({"watchNamespaces": "team-a"}, "watchNamespaces", id="namespaces-not-a-list"),
    pytest.param({"neon": {"apiUrl": "console.neon.tech"}}, "apiUrl", id="api-url-without-scheme"),
    pytest.param({"existingSecret": {"name": ""}}, "name", id="secret-name-empty"),
    pytest.param({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy", id="pull-policy-not-in-enum"),
    pytest.param({"resources": {"limits": {"memory": "lots"}}}, "memory", id="memory-not-a-quantity"),
    pytest.param({"health": {"port": 80}}, "port", id="health-port-privileged"),
    pytest.param({"watchNamespace": ["team-a"]}, "watchNamespace", id="misspelt-key"),
    pytest.param({"tenancy": {"mode": "off"}}, "mode", id="tenancy-mode-not-in-enum"),
    pytest.param({"secrets": {"previewNamespaces": ["Team_A"]}}, "previewNamespaces", id="bad-ns"),
    pytest.param(
        {"neon": {"apiUrl": "http://x/api/v2", "operationPollIntervalSeconds": 0}},
        "operationPollIntervalSeconds",
        id="poll-interval-zero",
    ),
    pytest.param(
        {"extraEnv": [{"name": "NEON_API_KEY", "value": "x"}]}, "extraEnv", id="extra-env-overrides-key"
    ),
]


@pytest.mark.parametrize(("values", "named"), BAD_VALUES)
def test_schema_rejects_bad_values_naming_them(helm: Helm, values: dict[str, Any], named: str) -> None:
    result = helm.template(values, release=RELEASE, namespace=NAMESPACE, check=False)
    assert result.returncode != 0, f"rendered despite {values}"
    assert "schema" in result.stderr
    assert named in result.stderr, result.stderr
    assert helm.lint(values).returncode != 0


def test_two_replicas_run_with_kopf_peering_one_active(helm: Helm) -> None:
    docs = render(helm, replicas=2, peering={"lifetimeSeconds": 10})
    (deployment,) = find(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "--peering" in container["args"]
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["PEERING_LIFETIME"]["value"] == "10"
    (peering,) = find(docs, "ClusterKopfPeering")
    assert peering["metadata"]["name"] == env["PEERING_NAME"]["value"]
    rules = [r for role in find(docs, "ClusterRole") for r in role.get("rules") or []]
    assert any("kopf.dev" in r["apiGroups"] and "clusterkopfpeerings" in r["resources"] for r in rules)
    # One replica: standalone, no peering object.
    single = render(helm)
    assert not list(find(single, "ClusterKopfPeering"))
    (one,) = find(single, "Deployment")
    assert "--peering" not in one["spec"]["template"]["spec"]["containers"][0]["args"]


def test_the_request_budget_and_branch_cache_values_reach_the_environment(helm: Helm) -> None:
    docs = render(
        helm, neon={"budgetPerMinute": 300, "budgetPerRoutePerSecond": 0, "branchCacheTtlSeconds": 0}
    )
    (deployment,) = find(docs, "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["NEON_API_BUDGET_PER_MINUTE"] == "300"
    assert env["NEON_API_BUDGET_PER_ROUTE_PER_SECOND"] == "0"
    assert env["NEON_BRANCH_CACHE_TTL"] == "0"
    assert "NEON_API_BUDGET_PER_MINUTE" not in {
        e["name"]
        for e in next(find(render(helm), "Deployment"))["spec"]["template"]["spec"]["containers"][0]["env"]
    }
