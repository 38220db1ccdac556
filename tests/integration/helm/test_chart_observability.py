"""The chart's observability (issue 17 item 2): the metrics port reaches the operator and a Service, the
ServiceMonitor renders only when asked for AND the cluster serves monitoring.coreos.com/v1, both probes hit
kopf's health endpoint, and every query of the Grafana dashboard names a metric the operator exports."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from neon_checkpoints.runtime.metrics import Metrics, metric_names
from tests.integration.helm.chart import CHART_DIR, KUBE_VERSION, Helm, find, helm_or_skip, manifests

pytestmark = pytest.mark.helm

RELEASE, NAMESPACE = "ckpt", "ckpt-system"
DASHBOARD = CHART_DIR / "dashboards" / "neon-checkpoints.json"
MONITORING = "monitoring.coreos.com/v1"


@pytest.fixture(scope="module")
def helm() -> Helm:
    return Helm(helm_or_skip())


def render(helm: Helm, *api_versions: str, **values: Any) -> list[dict[str, Any]]:
    args = ["template", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]
    for version in api_versions:
        args += ["--api-versions", version]
    for key, value in values.items():
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    return manifests(helm.run(*args).stdout)


def test_metrics_port_is_set_served_and_behind_a_service(helm: Helm) -> None:
    docs = render(helm, metrics={"enabled": True, "port": 9102})
    (deployment,) = find(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["NEON_CHECKPOINTS_METRICS_PORT"] == "9102"
    assert {"name": "metrics", "containerPort": 9102, "protocol": "TCP"} in container["ports"]
    (service,) = find(docs, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9102, "targetPort": "metrics", "protocol": "TCP"}
    ]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_probes_hit_kopfs_health_endpoint(helm: Helm) -> None:
    (deployment,) = find(render(helm), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["args"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_metrics_can_be_switched_off(helm: Helm) -> None:
    docs = render(
        helm, MONITORING, metrics={"enabled": False, "port": 8081, "serviceMonitor": {"enabled": True}}
    )
    (deployment,) = find(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "NEON_CHECKPOINTS_METRICS_PORT" not in {e["name"] for e in container["env"]}
    assert not list(find(docs, "Service")) and not list(find(docs, "ServiceMonitor"))


@pytest.mark.parametrize(
    ("asked", "crd_present", "rendered"),
    [(False, False, False), (False, True, False), (True, False, False), (True, True, True)],
    ids=["not-asked", "not-asked-crd-present", "asked-no-crd", "asked-crd-present"],
)
def test_service_monitor_only_when_asked_and_the_crd_is_there(
    helm: Helm, asked: bool, crd_present: bool, rendered: bool
) -> None:
    metrics = {
        "enabled": True,
        "port": 8081,
        "serviceMonitor": {"enabled": asked, "labels": {"release": "prom"}},
    }
    docs = render(helm, *([MONITORING] if crd_present else []), metrics=metrics)
    monitors = list(find(docs, "ServiceMonitor"))
    assert bool(monitors) is rendered
    if rendered:
        (monitor,) = monitors
        assert monitor["metadata"]["labels"]["release"] == "prom"
        (service,) = find(docs, "Service")
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


def test_lint_with_everything_on(helm: Helm) -> None:
    result = helm.lint(
        {
            "metrics": {
                "enabled": True,
                "port": 8081,
                "serviceMonitor": {"enabled": True},
                "dashboard": {"enabled": True},
            }
        }
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_configmap_carries_the_chart_dashboard(helm: Helm) -> None:
    docs = render(helm, metrics={"enabled": True, "port": 8081, "dashboard": {"enabled": True}})
    (config_map,) = find(docs, "ConfigMap", f"{RELEASE}-neon-checkpoints-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["neon-checkpoints.json"]) == json.loads(DASHBOARD.read_text())


def panel_queries() -> dict[str, list[str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return {panel["title"]: [t["expr"] for t in panel["targets"]] for panel in dashboard["panels"]}


def test_every_dashboard_query_names_an_exported_metric() -> None:
    exported = metric_names(Metrics())
    queries = panel_queries()
    for title, exprs in queries.items():
        for expr in exprs:
            named = set(re.findall(r"\bneon_checkpoints_[a-z_]+\b", expr))
            assert named, f"panel {title!r}: {expr!r} names no operator metric"
            assert named <= exported, (
                f"panel {title!r} queries {named - exported}, which the operator does not export"
            )


def test_the_dashboard_has_the_panels_operators_look_for() -> None:
    titles = " | ".join(panel_queries()).lower()
    for wanted in ("checkpoints per minute", "restore duration, p50 / p95", "429", "requests", "by phase"):
        assert wanted in titles
