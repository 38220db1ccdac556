"""Code and database together (issue 14) on the real apiserver + controller-manager, the emulator and the
meta DB: capture of each kind, a Finalize that brings both back (quiesce order, crashes after the database
and between two workloads), and undo (after a finalized restore; refused when the old branch is gone)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from tests.e2e.restore.conftest import RestoreHarness, columns, contacts, sql
from tests.e2e.workloads.conftest import WORKLOADS, App, configmap, deployment, v1_table, v3_table

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]


def at_v3_after_checkpoint_v1(app: App, restores: RestoreHarness, **operator: str) -> tuple[str, str]:
    """Production at v1 (table, image, queries), Checkpoint v1 of all of it, then the agent's v3."""
    h = app.h
    h.start_operator(**operator)
    project = h.create_project()
    uri = restores.app_uri(project)
    v1_table(uri)
    app.deploy("v1", "SELECT name, email FROM contacts", replicas=1)
    app.checkpoint(project, "v1", "c1", workloads=WORKLOADS)
    v3_table(uri)
    app.deploy("v3", "SELECT name, email, tags FROM contacts", replicas=2)
    app.wait_observed("deployment", "web")
    return project, uri


def assert_at_v1(app: App, uri: str) -> None:
    assert [name for name, _ in columns(uri)] == ["id", "name", "email"]
    assert app.image() == "registry.local/web:v1"
    assert app.query() == "SELECT name, email FROM contacts"
    web = app.wait_observed("deployment", "web")
    assert web["spec"]["replicas"] == 1


# -- capture --------------------------------------------------------------------------------------------


def test_a_checkpoint_records_each_kind_once_per_content(app: App, restores: RestoreHarness) -> None:
    h = app.h
    h.start_operator()
    project = h.create_project()
    app.deploy("v1", "SELECT 1")
    assert h.apply(deployment("v1", kind="StatefulSet", name="cache")).returncode == 0
    named = [*WORKLOADS, {"kind": "StatefulSet", "name": "cache"}]

    first = app.checkpoint(project, "v1", "c1", workloads=named)["status"]["workloads"]
    assert h.apply(configmap("SELECT 2")).returncode == 0
    second = app.checkpoint(project, "v2", "c2", workloads=named)["status"]["workloads"]

    assert [(w["kind"], w["name"]) for w in first] == [
        ("Deployment", "web"),
        ("ConfigMap", "queries"),
        ("StatefulSet", "cache"),
    ]
    assert [w["revision"] for w in first][::2] == [w["revision"] for w in second][::2]
    assert first[1]["revision"] != second[1]["revision"]
    rows = h.meta_rows("SELECT kind, count(*) AS n FROM workload_revisions GROUP BY kind ORDER BY kind")
    assert [(r["kind"], r["n"]) for r in rows] == [("ConfigMap", 2), ("Deployment", 1), ("StatefulSet", 1)]
    [stored] = h.meta_rows(
        "SELECT DISTINCT r.content FROM checkpoint_workloads w JOIN workload_revisions r USING (digest)"
        " WHERE w.kind = 'StatefulSet'"
    )
    container = stored["content"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.local/cache:v1"
    assert container["env"] == [{"name": "APP_VERSION", "value": "v1"}]
    assert stored["content"]["template"]["spec"]["volumes"][0]["configMap"]["name"] == "queries"


def test_a_missing_workload_fails_the_checkpoint_and_takes_no_snapshot(
    app: App, restores: RestoreHarness
) -> None:
    h = app.h
    h.start_operator()
    project = h.create_project()
    assert h.apply(configmap("SELECT 1")).returncode == 0
    doc = h.example("checkpoint.yaml", project).replace(
        "deletionPolicy: Delete", "workloads: [{kind: Deployment, name: web}]"
    )
    assert h.apply(doc).returncode == 0

    body = h.wait_phase("v1", "Failed")

    ready = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "WorkloadNotFound"
    assert f"Deployment {h.namespace}/web" in ready["message"]
    assert h.snapshot_names(project) == []


# -- restore --------------------------------------------------------------------------------------------


def test_a_finalize_brings_code_and_database_back_together(app: App, restores: RestoreHarness) -> None:
    _, uri = at_v3_after_checkpoint_v1(app, restores)

    restores.restore("back-to-v1", "v1")
    status = restores.wait_restore("back-to-v1")["status"]

    assert_at_v1(app, uri)
    assert contacts(uri) == [("Ada", "ada@example.com")]
    condition = next(c for c in status["conditions"] if c["type"] == "WorkloadsRestored")
    assert condition["status"] == "True", condition
    assert [(w["kind"], w["state"]) for w in status["workloads"]] == [
        ("Deployment", "Applied"),
        ("ConfigMap", "Applied"),
    ]
    # What the controller-manager did: the v1 template's ReplicaSet is scaled back up. No kubelet runs, so its
    # pods never become ready and the rolling update keeps v3's ReplicaSet until they would.
    by_image = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in app.replicasets()}
    assert by_image["registry.local/web:v1"]["spec"]["replicas"] == 1
    shown = app.h.kubectl("get", "deployment", "web", "-o", "json", "--show-managed-fields").stdout
    managers = {m["manager"] for m in json.loads(shown)["metadata"]["managedFields"]}
    assert "neon-checkpoints" in managers


def test_quiesce_holds_the_workload_at_zero_while_the_database_restore_runs(
    app: App, restores: RestoreHarness
) -> None:
    h = app.h
    _, uri = at_v3_after_checkpoint_v1(app, restores)
    h.set_faults({"operation_delay": 1.0})  # the database restore's operations take seconds
    samples: list[tuple[str, Any, Any, Any]] = []
    done = threading.Event()

    def watch() -> None:
        # The Deployment first, then the restore: a restore still at RestoreAccepted after the Deployment was
        # read, with the Deployment still on v3's template, means the database restore was under way when it
        # was read (status says nothing between the database restore and v1's apply when that is quick).
        while not done.is_set():
            web = app.get("deployment", "web")
            found = h.kubectl("get", "checkpointrestore", "back-to-v1", "-o", "json", check=False)
            body = json.loads(found.stdout) if found.returncode == 0 else {}
            conditions = body.get("status", {}).get("conditions", [])
            reason = next((c["reason"] for c in conditions if c["type"] == "Succeeded"), "")
            image = web["spec"]["template"]["spec"]["containers"][0]["image"]
            samples.append((reason, image, web["spec"]["replicas"], web.get("status", {}).get("replicas", 0)))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        restores.restore("back-to-v1", "v1", quiesce=True)
        restores.wait_restore("back-to-v1", timeout=120)
    finally:
        done.set()
        watcher.join(10)

    during = [
        (spec, pods)
        for reason, image, spec, pods in samples
        if reason == "RestoreAccepted" and image == "registry.local/web:v3"
    ]
    assert during, samples
    assert set(during) == {(0, 0)}, during  # scaled to zero, pods gone, for the whole database restore
    assert_at_v1(app, uri)
    # Quiesced first, v3's ReplicaSet is at zero and v1's holds the replica.
    by_image = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in app.replicasets()}
    assert by_image["registry.local/web:v3"]["spec"]["replicas"] == 0
    assert by_image["registry.local/web:v1"]["spec"]["replicas"] == 1


@pytest.mark.parametrize(
    "point", ["database-restored", "workload-applied"], ids=["after-db", "between-workloads"]
)
def test_a_crash_resumes_without_a_second_database_restore(
    app: App, restores: RestoreHarness, point: str
) -> None:
    h = app.h
    project, uri = at_v3_after_checkpoint_v1(app, restores)
    h.operators.stop_all()
    first = h.start_operator(NEON_CHECKPOINTS_CRASH_AFTER=point)
    snapshot = h.get("checkpoint", "v1")["status"]["snapshotId"]
    restores.restore("back-to-v1", "v1")
    assert first.wait_exit(timeout=90) == 137, first.log()
    assert [name for name, _ in columns(uri)] == ["id", "name", "email"]  # the database part is done
    assert app.query() == "SELECT name, email, tags FROM contacts"  # the ConfigMap (second) is not
    assert app.image() == (
        "registry.local/web:v3" if point == "database-restored" else "registry.local/web:v1"
    )

    h.start_operator()
    status = restores.wait_restore("back-to-v1")["status"]

    assert_at_v1(app, uri)
    restored = [b for b in restores.branches(project).values() if b.restored_from == snapshot]
    assert len(restored) == 1 and restored[0].id == status["restoredBranchId"]
    [row] = restores.restores()
    assert row["phase"] == "Succeeded" and row["database_restored_at"] is not None


# -- undo -----------------------------------------------------------------------------------------------


def test_undo_puts_production_back_to_v3_with_what_was_written_before_the_jump(
    app: App, restores: RestoreHarness
) -> None:
    project, uri = at_v3_after_checkpoint_v1(app, restores)
    sql(uri, "INSERT INTO contacts (name, email, tags) VALUES ('Alan', 'alan@example.com', '{late}')")
    restores.restore("back-to-v1", "v1")
    restores.wait_restore("back-to-v1")
    production = restores.branches(project)["production"].id
    sql(uri, "INSERT INTO contacts (name, email) VALUES ('Edsger', 'edsger@example.com')")  # written on v1

    app.undo("undo-v1", "back-to-v1")
    status = restores.wait_restore("undo-v1")["status"]

    assert [name for name, _ in columns(uri)] == ["id", "name", "email", "tags"]  # same connection string
    # v3's rows and the one written after v3, before the jump; not the one written while at v1.
    assert [row[0] for row in contacts(uri)] == ["Ada", "Alan", "Grace"]
    assert app.image() == "registry.local/web:v3" and app.query() == "SELECT name, email, tags FROM contacts"
    assert app.wait_observed("deployment", "web")["spec"]["replicas"] == 2
    assert status["restoredBranchId"] == production == restores.branches(project)["production"].id
    kept = next(b for b in restores.branches(project).values() if b.id == status["replacedBranchId"])
    assert kept.name.startswith("before-undo-")  # what v1 production held is kept, not lost


def test_undo_is_refused_when_the_old_branch_is_gone(app: App, restores: RestoreHarness) -> None:
    _, uri = at_v3_after_checkpoint_v1(app, restores)
    restores.restore("back-to-v1", "v1", oldBranchPolicy="Delete")
    restores.wait_restore("back-to-v1")

    app.undo("undo-v1", "back-to-v1")
    status = restores.wait_restore("undo-v1", phase="Failed")["status"]

    condition = next(c for c in status["conditions"] if c["type"] == "Succeeded")
    assert condition["reason"] == "OldBranchGone"
    assert "oldBranchPolicy: Delete" in condition["message"]
    assert_at_v1(app, uri)
