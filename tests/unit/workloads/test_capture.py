"""What a checkpoint records of a workload, and how a restore applies it back (pure: capture.py, plan.py,
spec.py), by tables of situations."""

from __future__ import annotations

from typing import Any

import pytest

from neon_checkpoints.core.errors import InvalidSpec
from neon_checkpoints.workloads.capture import MAX_CONTENT_BYTES, WorkloadTooLarge, capture, select
from neon_checkpoints.workloads.plan import Progress, apply_body, generation_observed, scaled_down, to_apply
from neon_checkpoints.workloads.spec import DatabaseUrl, WorkloadRef, WorkloadsSpec
from tests.unit.flowkit.workloads import workload

WEB = {"kind": "Deployment", "name": "web"}


def test_a_deployment_records_its_code_and_replicas_but_not_what_others_own() -> None:
    obj = workload("Deployment", "web", image="web:v3", replicas=3, env=[{"name": "MODE", "value": "x"}])
    obj["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}

    captured = capture("Deployment", "web", obj)

    assert captured.replicas == 3
    container = captured.content["template"]["spec"]["containers"][0]
    assert container == {"name": "app", "image": "web:v3", "env": [{"name": "MODE", "value": "x"}]}
    assert "status" not in captured.content
    assert captured.content["selector"] == {"matchLabels": {"app": "web"}}
    assert len(captured.revision) == 12 and captured.digest.startswith(captured.revision)


def test_the_digest_depends_on_the_content_only() -> None:
    one = workload("ConfigMap", "queries", data={"list": "SELECT 1", "add": "INSERT"})
    same = workload("ConfigMap", "queries", data={"add": "INSERT", "list": "SELECT 1"})
    same["metadata"]["resourceVersion"] = "999"
    other = workload("ConfigMap", "queries", data={"list": "SELECT 2", "add": "INSERT"})

    assert capture("ConfigMap", "queries", one).digest == capture("ConfigMap", "queries", same).digest
    assert capture("ConfigMap", "queries", one).digest != capture("ConfigMap", "queries", other).digest


def test_a_configmap_over_the_limit_is_refused_with_its_size() -> None:
    big = workload("ConfigMap", "blob", data={"x": "a" * (MAX_CONTENT_BYTES + 1)})

    with pytest.raises(WorkloadTooLarge, match=r"ConfigMap blob: its data is \d+ bytes, over the limit"):
        capture("ConfigMap", "blob", big)


def test_selection_keeps_the_listed_order_names_the_missing_and_adds_selected_once() -> None:
    refs = (WorkloadRef("Deployment", "web"), WorkloadRef("ConfigMap", "gone"))
    listed: dict[tuple[str, str], Any] = {
        ("Deployment", "web"): workload("Deployment", "web"),
        ("ConfigMap", "gone"): None,
    }
    selected = [("Deployment", workload("Deployment", "web")), ("ConfigMap", workload("ConfigMap", "q"))]

    selection = select(refs, listed, selected)  # type: ignore[arg-type]

    assert [str(ref) for ref, _ in selection.found] == ["Deployment/web", "ConfigMap/q"]
    assert [str(ref) for ref in selection.missing] == ["ConfigMap/gone"]


@pytest.mark.parametrize(
    ("situation", "spec", "message"),
    [
        ("not a list", {"workloads": {"kind": "Deployment"}}, "must be a list"),
        ("unknown kind", {"workloads": [{"kind": "Pod", "name": "x"}]}, r"kind must be one of"),
        ("bad name", {"workloads": [{"kind": "Deployment", "name": "Web!"}]}, "object name"),
        (
            "listed twice",
            {"workloads": [{"kind": "Deployment", "name": "a"}, {"kind": "Deployment", "name": "a"}]},
            "listed once",
        ),
        (
            "database URL on a ConfigMap",
            {"workloads": [{"kind": "ConfigMap", "name": "a", "databaseUrl": {"env": "DB"}}]},
            "only valid for a Deployment",
        ),
        (
            "database URL from both an env var and a Secret key",
            {"workloads": [{**WEB, "databaseUrl": {"env": "DB", "secretKeyRef": {"name": "s", "key": "k"}}}]},
            r"spec.workloads\[0\].databaseUrl: set exactly one of env or secretKeyRef",
        ),
        (
            "database URL from neither",
            {"workloads": [{**WEB, "databaseUrl": {"other": 1}}]},
            r"databaseUrl: set exactly one of env or secretKeyRef",
        ),
        (
            "Secret key without a key",
            {"workloads": [{**WEB, "databaseUrl": {"secretKeyRef": {"name": "s"}}}]},
            r"databaseUrl.secretKeyRef.key must be a Secret key",
        ),
        (
            "Secret key with a bad name",
            {"workloads": [{**WEB, "databaseUrl": {"secretKeyRef": {"name": "S:1", "key": "k"}}}]},
            r"databaseUrl.secretKeyRef.name must be a Secret name",
        ),
        ("too many", {"workloads": [{"kind": "ConfigMap", "name": f"c{i}"} for i in range(17)]}, "at most"),
        ("empty selector", {"workloadSelector": {"matchLabels": {}}}, "at least one label"),
    ],
)
def test_bad_workload_specs_are_refused_naming_the_field(
    situation: str, spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidSpec, match=message):
        WorkloadsSpec.from_dict(spec)


def test_an_apply_sends_exactly_the_recorded_fields() -> None:
    captured = capture("Deployment", "web", workload("Deployment", "web", image="web:v1", replicas=2))

    body = apply_body("Deployment", "web", "apps", captured.content)

    assert body["apiVersion"] == "apps/v1" and body["metadata"] == {"name": "web", "namespace": "apps"}
    assert body["spec"]["replicas"] == 2
    assert body["spec"]["template"]["spec"]["containers"] == [{"name": "app", "image": "web:v1"}]
    cm = apply_body("ConfigMap", "q", "apps", {"data": {"k": "v"}})
    assert cm == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "q", "namespace": "apps"},
        "data": {"k": "v"},
    }


def test_a_resumed_restore_applies_only_what_it_has_not_applied() -> None:
    progress = [
        Progress(1, "ConfigMap", "q", "b" * 64, None, None, False),
        Progress(0, "Deployment", "web", "a" * 64, "c" * 64, 4, True),
    ]

    assert [str(p) for p in to_apply(progress)] == ["ConfigMap/q"]


@pytest.mark.parametrize(
    ("situation", "status", "generation", "observed"),
    [
        ("controller caught up", {"observedGeneration": 5}, 5, True),
        ("controller behind", {"observedGeneration": 4}, 5, False),
        ("controller never saw it", {}, 5, False),
    ],
)
def test_generation_observed(situation: str, status: dict[str, Any], generation: int, observed: bool) -> None:
    obj = workload("Deployment", "web")
    obj["status"] = status
    assert generation_observed(obj, generation) is observed


def test_scaled_down_waits_for_the_controller_to_remove_the_pods() -> None:
    obj = workload("Deployment", "web", replicas=0)
    obj["status"] = {"observedGeneration": 1, "replicas": 2}
    assert not scaled_down(obj)
    obj["status"]["replicas"] = 0
    assert scaled_down(obj)


def test_a_database_url_is_an_env_var_or_a_secret_key() -> None:
    spec = WorkloadsSpec.from_dict(
        {
            "workloads": [
                {**WEB, "databaseUrl": {"env": "DATABASE_URL"}},
                {
                    "kind": "StatefulSet",
                    "name": "api",
                    "databaseUrl": {"secretKeyRef": {"name": "db", "key": "url"}},
                },
            ]
        }
    )
    assert [r.database_url for r in spec.refs] == [
        DatabaseUrl(env="DATABASE_URL"),
        DatabaseUrl(secret=("db", "url")),
    ]
    assert [r.database_url_stored for r in spec.refs] == ["DATABASE_URL", "secretKeyRef:db:url"]
