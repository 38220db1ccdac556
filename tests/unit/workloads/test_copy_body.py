"""A Preview copy's database URL (workloads/plan.copy_body): the env var keeps its place, so a later
`$(DATABASE_URL)` still expands; a container without it gets it, so production's URL from an envFrom loses."""

from __future__ import annotations

from typing import Any

from neon_checkpoints.workloads.plan import copy_body

URL = {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "v1-live", "key": "uri"}}}


def copied_env(*containers: dict[str, Any]) -> list[list[dict[str, Any]]]:
    content = {"replicas": 1, "template": {"spec": {"containers": list(containers)}}}
    body = copy_body(
        "Deployment",
        "web",
        content,
        namespace="apps",
        new_name="web-show-v1",
        restore_uid="uid-1",
        owner={"kind": "CheckpointRestore", "name": "show-v1", "uid": "uid-1"},
        database_url_env="DATABASE_URL",
        secret_name="v1-live",
        configmaps={},
    )
    return [c.get("env", []) for c in body["spec"]["template"]["spec"]["containers"]]


def test_the_url_is_replaced_in_its_place_and_a_duplicate_goes() -> None:
    env = [
        {"name": "DATABASE_URL", "value": "postgres://production"},
        {"name": "DSN", "value": "$(DATABASE_URL)?x=1"},
        {"name": "DATABASE_URL", "value": "postgres://production-again"},
    ]
    assert copied_env({"name": "app", "env": env}) == [[URL, {"name": "DSN", "value": "$(DATABASE_URL)?x=1"}]]


def test_a_container_without_it_gets_it_after_its_own() -> None:
    sidecar = {"name": "sidecar", "envFrom": [{"secretRef": {"name": "prod-db"}}]}
    app = {"name": "app", "env": [{"name": "A", "value": "1"}]}
    assert copied_env(app, sidecar) == [[{"name": "A", "value": "1"}, URL], [URL]]
