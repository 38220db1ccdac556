"""A Preview's copies of the code (issue 14 item 4) on the real apiserver + controller-manager, the emulator
and the meta DB: the checkpoint's Deployment and ConfigMap come up as suffixed copies reading the preview's
database while production keeps running its current version; they go with the CheckpointRestore; without a
`databaseUrl` entry no copy is made and the status says why. A second Deployment reads its URL from a Secret
key (`databaseUrl.secretKeyRef`): its copy reads the preview's Secret there."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.checkpoint.conftest import eventually
from tests.e2e.restore.conftest import RestoreHarness, columns
from tests.e2e.workloads.conftest import WORKLOADS, App, deployment, v1_table, v3_table

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]

COPY_LABEL = "neoncheckpoints.dev/preview-of"
# The container fields a checkpoint records (README "Capture").
CODE_FIELDS = ("name", "image", "command", "args", "env", "envFrom", "volumeMounts", "workingDir")
PROD_DB = {"name": "prod-db", "key": "url"}
WORKER = {"kind": "Deployment", "name": "worker", "databaseUrl": {"secretKeyRef": PROD_DB}}
POINTED = [{**WORKLOADS[0], "databaseUrl": {"env": "DATABASE_URL"}}, WORKLOADS[1], WORKER]


def app_env(version: str, uri: str) -> list[dict[str, Any]]:
    # DSN refers to DATABASE_URL: Kubernetes expands $(VAR) only from variables listed before it.
    return [
        {"name": "DATABASE_URL", "value": uri},
        {"name": "APP_VERSION", "value": version},
        {"name": "DSN", "value": "$(DATABASE_URL)?application_name=web"},
    ]


def captured(app: App, checkpoint: str) -> dict[tuple[str, str], dict[str, Any]]:
    uid = app.get("checkpoint", checkpoint)["metadata"]["uid"]
    rows = app.h.meta_rows(
        "SELECT w.kind, w.name, r.content FROM checkpoint_workloads w"
        " JOIN workload_revisions r USING (digest) WHERE w.checkpoint_uid = %s",
        uid,
    )
    return {(r["kind"], r["name"]): r["content"] for r in rows}


def copies(app: App, kind: str, uid: str) -> list[dict[str, Any]]:
    out = app.h.kubectl("get", kind, "-l", f"{COPY_LABEL}={uid}", "-o", "json").stdout
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


def production_at_v3(app: App, restores: RestoreHarness, workloads: list[dict[str, Any]]) -> tuple[str, str]:
    h = app.h
    h.start_operator()
    project = h.create_project()
    uri = restores.app_uri(project)
    v1_table(uri)
    if WORKER in workloads:
        made = h.kubectl("create", "secret", "generic", "prod-db", f"--from-literal=url={uri}", check=False)
        assert made.returncode == 0, made.stderr
        worker = deployment("v1", name="worker", env=[{"name": "DB", "valueFrom": {"secretKeyRef": PROD_DB}}])
        assert h.apply(worker).returncode == 0
    app.deploy("v1", "SELECT name, email FROM contacts", env=app_env("v1", uri))
    app.checkpoint(project, "v1", "c1", workloads=workloads)
    v3_table(uri)
    app.deploy("v3", "SELECT name, email, tags FROM contacts", replicas=2, env=app_env("v3", uri))
    app.wait_observed("deployment", "web")
    return project, uri


def test_a_preview_runs_the_checkpoints_code_on_its_own_database_next_to_production(
    app: App, restores: RestoreHarness
) -> None:
    h = app.h
    _, uri = production_at_v3(app, restores, POINTED)
    recorded = captured(app, "v1")
    before = app.get("deployment", "web")

    restores.restore("show-v1", "v1", example="checkpointrestore-preview.yaml", previewSecretName="v1-live")
    body = restores.wait_restore("show-v1")
    uid, status = body["metadata"]["uid"], body["status"]

    assert [(w["kind"], w["name"], w["copy"], w["state"]) for w in status["workloads"]] == [
        ("Deployment", "web", "web-show-v1", "Copied"),
        ("ConfigMap", "queries", "queries-show-v1", "Copied"),
        ("Deployment", "worker", "worker-show-v1", "Copied"),
    ]
    condition = next(c for c in status["conditions"] if c["type"] == "WorkloadsRestored")
    assert (condition["status"], condition["reason"]) == ("True", "Copied"), condition
    secret = restores.secret("v1-live")
    preview_uri = secret["decoded"]["uri"]
    assert preview_uri != uri and [c for c, _ in columns(preview_uri)] == ["id", "name", "email"]

    # The copy runs the checkpoint's recorded template, rewired: DATABASE_URL (in its place, so DSN still
    # expands it) from the preview's Secret, the ConfigMap volume from the ConfigMap's copy.
    web = app.get("deployment", "web-show-v1")
    assert web["metadata"]["labels"] == {COPY_LABEL: uid}
    [owner] = web["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("CheckpointRestore", "show-v1", uid)
    want = recorded[("Deployment", "web")]
    assert web["spec"]["replicas"] == want["replicas"] == 1
    pod = web["spec"]["template"]
    assert pod["metadata"]["labels"][COPY_LABEL] == uid and "app" not in pod["metadata"]["labels"]
    assert web["spec"]["selector"]["matchLabels"] == pod["metadata"]["labels"]
    [want_container] = want["template"]["spec"]["containers"]
    [container] = pod["spec"]["containers"]
    assert {k: container[k] for k in CODE_FIELDS if k in container} == {
        **want_container,
        "env": [
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "v1-live", "key": "uri"}}},
            {"name": "APP_VERSION", "value": "v1"},
            {"name": "DSN", "value": "$(DATABASE_URL)?application_name=web"},
        ],
    }
    assert want_container["image"] == "registry.local/web:v1"
    [want_volume] = want["template"]["spec"]["volumes"]
    assert pod["spec"]["volumes"] == [
        {**want_volume, "configMap": {**want_volume["configMap"], "name": "queries-show-v1"}}
    ]
    assert uri not in json.dumps(web), "the copy must not read production's database"
    # The worker read its URL from Secret prod-db key url: its copy reads the preview's Secret there.
    [worker] = app.get("deployment", "worker-show-v1")["spec"]["template"]["spec"]["containers"]
    assert worker["env"] == [{"name": "DB", "valueFrom": {"secretKeyRef": {"name": "v1-live", "key": "uri"}}}]
    queries = app.get("configmap", "queries-show-v1")
    assert queries["data"] == recorded[("ConfigMap", "queries")]["data"]
    assert queries["data"] == {"list.sql": "SELECT name, email FROM contacts"}

    # The controller-manager acts on the copy: a ReplicaSet of the v1 template, owned by the copy.
    def web_replicasets() -> list[dict[str, Any]]:
        return [
            rs
            for rs in copies(app, "replicasets", uid)
            if rs["metadata"]["ownerReferences"][0]["name"] == "web-show-v1"
        ]

    [rs] = eventually(web_replicasets, timeout=30, what="the copy's ReplicaSet", h=h)
    assert rs["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"] == {
        "name": "v1-live",
        "key": "uri",
    }
    assert rs["spec"]["replicas"] == 1

    # Production keeps running v3: not written to, not rolled back.
    web_now = app.get("deployment", "web")
    assert web_now["metadata"]["generation"] == before["metadata"]["generation"]
    assert web_now["spec"] == before["spec"]
    assert app.image() == "registry.local/web:v3" and web_now["spec"]["replicas"] == 2
    assert app.query() == "SELECT name, email, tags FROM contacts"
    assert [c for c, _ in columns(uri)] == ["id", "name", "email", "tags"]
    assert preview_uri not in h.operator_logs()

    # Deleting the CheckpointRestore takes its copies and its Secret with it.
    deleted = h.kubectl("delete", "checkpointrestore", "show-v1", "--timeout=60s", check=False)
    assert deleted.returncode == 0, deleted.stderr + h.operator_logs()
    assert copies(app, "deployments", uid) == [] and copies(app, "configmaps", uid) == []
    assert app.get("deployment", "worker")["spec"]["template"]["spec"]["containers"][0]["env"][0] == {
        "name": "DB",
        "valueFrom": {"secretKeyRef": PROD_DB},
    }
    gone = h.kubectl("get", "secret", "v1-live", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    eventually(
        lambda: copies(app, "replicasets", uid) == [], timeout=30, what="the copy's ReplicaSet to go", h=h
    )
    assert app.get("deployment", "web")["spec"] == before["spec"]
    assert app.get("configmap", "queries")["data"] == {"list.sql": "SELECT name, email, tags FROM contacts"}


def test_a_preview_without_a_database_url_entry_makes_no_copies_and_says_why(
    app: App, restores: RestoreHarness
) -> None:
    production_at_v3(app, restores, WORKLOADS)

    restores.restore("show-v1", "v1", example="checkpointrestore-preview.yaml", previewSecretName="v1-live")
    body = restores.wait_restore("show-v1")
    uid, status = body["metadata"]["uid"], body["status"]

    condition = next(c for c in status["conditions"] if c["type"] == "WorkloadsRestored")
    assert (condition["status"], condition["reason"]) == ("False", "NoDatabaseUrl"), condition
    assert "databaseUrl" in condition["message"] and "no copies" in condition["message"]
    assert "no copies of the workloads were made" in next(
        c["message"] for c in status["conditions"] if c["type"] == "Succeeded"
    )
    assert "workloads" not in status
    for kind in ("deployments", "configmaps", "replicasets"):
        assert copies(app, kind, uid) == [], kind
    names = json.loads(app.h.kubectl("get", "deployments", "-o", "json").stdout)["items"]
    assert [d["metadata"]["name"] for d in names] == ["web"]
    assert app.image() == "registry.local/web:v3"
    assert restores.secret("v1-live")["decoded"]["uri"]  # the database preview itself is there
