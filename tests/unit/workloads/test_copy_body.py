"""A Preview copy's database URL (workloads/plan.copy_body): the env var keeps its place, so a later
`$(DATABASE_URL)` still expands; a container without it gets it, so production's URL from an envFrom loses.
The Secret-key form (`databaseUrl.secretKeyRef`) redirects every env var carrying that key, and a workload
none of whose containers reads it is not copied (plan_copies says why)."""

from __future__ import annotations

from typing import Any

from neon_checkpoints.workloads.plan import copy_body, plan_copies
from neon_checkpoints.workloads.spec import DatabaseUrl

URL = {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "v1-live", "key": "uri"}}}


def copied_env(
    *containers: dict[str, Any], url: DatabaseUrl | None = None, init: bool = False
) -> list[list[dict[str, Any]]]:
    key = "initContainers" if init else "containers"
    content = {"replicas": 1, "template": {"spec": {key: list(containers)}}}
    body = copy_body(
        "Deployment",
        "web",
        content,
        namespace="apps",
        new_name="web-show-v1",
        restore_uid="uid-1",
        owner={"kind": "CheckpointRestore", "name": "show-v1", "uid": "uid-1"},
        database_url=url or DatabaseUrl(env="DATABASE_URL"),
        secret_name="v1-live",
        configmaps={},
    )
    return [c.get("env", []) for c in body["spec"]["template"]["spec"][key]]


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


# -- databaseUrl.secretKeyRef ----------------------------------------------------------------------------

PROD = DatabaseUrl(secret=("prod-db", "url"))


def from_secret(name: str, secret: str = "prod-db", key: str = "url") -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def test_every_env_var_reading_the_secret_key_reads_the_preview_instead() -> None:
    app = {
        "name": "app",
        "env": [
            from_secret("DB"),
            {"name": "DSN", "value": "$(DB)?x=1"},
            from_secret("PASSWORD", key="password"),  # another key of that Secret: untouched
            from_secret("OTHER", secret="other"),
        ],
    }
    worker = {"name": "migrate", "env": [from_secret("MIGRATE_URL")]}
    assert copied_env(app, url=PROD) == [
        [
            from_secret("DB", "v1-live", "uri"),
            {"name": "DSN", "value": "$(DB)?x=1"},
            from_secret("PASSWORD", key="password"),
            from_secret("OTHER", secret="other"),
        ]
    ]
    assert copied_env(worker, url=PROD, init=True) == [[from_secret("MIGRATE_URL", "v1-live", "uri")]]


def test_an_env_from_of_the_whole_secret_gets_an_explicit_entry_that_wins() -> None:
    app = {"name": "app", "envFrom": [{"secretRef": {"name": "prod-db"}, "prefix": "PG_"}], "env": []}
    plain = {"name": "plain", "envFrom": [{"secretRef": {"name": "prod-db"}}]}
    assert copied_env(app, plain, url=PROD) == [
        [from_secret("PG_url", "v1-live", "uri")],
        [from_secret("url", "v1-live", "uri")],
    ]


def test_a_container_not_reading_the_key_gets_nothing() -> None:
    sidecar = {"name": "sidecar", "env": [{"name": "A", "value": "1"}]}
    assert copied_env(sidecar, url=PROD) == [[{"name": "A", "value": "1"}]]


def pod(*containers: dict[str, Any], volumes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"replicas": 1, "template": {"spec": {"containers": list(containers), "volumes": volumes or []}}}


def test_a_workload_whose_containers_do_not_read_the_key_is_not_copied_and_the_plan_says_why() -> None:
    stored = PROD.stored()
    reads = pod({"name": "app", "env": [from_secret("DB")]})
    other_key = pod({"name": "app", "env": [from_secret("DB", key="password")]})
    mounted = pod(
        {"name": "app", "volumeMounts": [{"name": "s", "mountPath": "/s"}]},
        volumes=[{"name": "s", "secret": {"secretName": "prod-db"}}],
    )
    plan = plan_copies(
        [
            ("Deployment", "web", stored, reads),
            ("Deployment", "api", stored, other_key),
            ("StatefulSet", "db-tool", stored, mounted),
            ("ConfigMap", "queries", None, {"data": {}}),
        ],
        "show-v1",
        "v1",
    )
    assert plan.reason is None
    assert dict(plan.names) == {
        ("Deployment", "web"): "web-show-v1",
        ("ConfigMap", "queries"): "queries-show-v1",
    }
    assert [s.split(":")[0] for s in plan.skipped] == ["Deployment/api", "StatefulSet/db-tool"]
    assert "Secret prod-db key url" in plan.skipped[0] and "volumes are not redirected" in plan.skipped[1]

    none = plan_copies([("Deployment", "api", stored, other_key)], "show-v1", "v1")
    assert none.names == {} and none.reason is not None
    assert (
        "no copies" in none.reason
        and "Deployment/api: no container reads Secret prod-db key url" in none.reason
    )


def test_the_stored_form_round_trips() -> None:
    for url in (PROD, DatabaseUrl(env="DATABASE_URL"), DatabaseUrl(secret=("a.b-c", "x.y_z-1"))):
        assert DatabaseUrl.from_stored(url.stored()) == url
    assert DatabaseUrl.from_stored(None) is None
