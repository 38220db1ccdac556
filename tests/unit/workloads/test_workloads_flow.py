"""Workloads through the real flows, on the flow kit (a fake cluster with a controller that observes at
once, a fake Neon, the real meta store): capture with the snapshot, roll back with the database, undo."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf
import psycopg
import pytest

from neon_checkpoints.checkpoint.flow import CheckpointFlow
from neon_checkpoints.names import CHECKPOINT_RESTORES, CHECKPOINTS, undo_preserve_name
from neon_checkpoints.restore import code
from neon_checkpoints.restore.flow import RestoreFlow
from neon_checkpoints.restore.undo import UndoFlow
from tests.unit.flowkit import FakeProject, World
from tests.unit.flowkit.workloads import workload

pytestmark = pytest.mark.postgres

LOGGER = logging.getLogger("tests.workloads.flow")
WORKLOADS = [{"kind": "Deployment", "name": "web"}, {"kind": "ConfigMap", "name": "queries"}]


def deploy(world: World, version: str, *, replicas: int = 2) -> None:
    """The app as the agent leaves it at `version`: its image tag and its queries change together."""
    world.kube.put_workload(workload("Deployment", "web", image=f"web:{version}", replicas=replicas))
    world.kube.put_workload(workload("ConfigMap", "queries", data={"list": f"SELECT * FROM {version}"}))


async def checkpoint(world: World, name: str, uid: str, **spec: Any) -> dict[str, Any]:
    world.kube.apply(
        CHECKPOINTS, "Checkpoint", name, {"projectId": "p-1", "branch": "production", **spec}, uid=uid
    )
    await CheckpointFlow(world.runtime, world.kube.body_of(CHECKPOINTS, name), LOGGER).create()
    return world.kube.status_of(CHECKPOINTS, name)


def image(world: World) -> str:
    template = world.kube.workload_of("Deployment", "web")["spec"]["template"]
    return str(template["spec"]["containers"][0]["image"])


def queries(world: World) -> str:
    return str(world.kube.workload_of("ConfigMap", "queries")["data"]["list"])


async def restore(world: World, name: str, uid: str, **spec: Any) -> dict[str, Any]:
    world.kube.apply(CHECKPOINT_RESTORES, "CheckpointRestore", name, spec, uid=uid)
    flow = UndoFlow if spec.get("undo") else RestoreFlow
    await flow(world.runtime, world.kube.body_of(CHECKPOINT_RESTORES, name), LOGGER).create()
    return world.kube.status_of(CHECKPOINT_RESTORES, name)


async def v1_then_v3(world: World) -> FakeProject:
    project = world.neon.project()
    deploy(world, "v1")
    await checkpoint(world, "v1", "ck-1", workloads=WORKLOADS)
    deploy(world, "v3", replicas=3)
    return project


# -- capture --------------------------------------------------------------------------------------------


async def test_a_checkpoint_records_each_workload_once_per_content(world: World, fresh_database: str) -> None:
    world.neon.project()
    deploy(world, "v1")

    first = await checkpoint(world, "v1", "ck-1", workloads=WORKLOADS)
    world.kube.put_workload(workload("ConfigMap", "queries", data={"list": "SELECT tags"}))
    second = await checkpoint(world, "v2", "ck-2", workloads=WORKLOADS)

    assert first["phase"] == second["phase"] == "Ready"
    assert [(w["kind"], w["name"]) for w in first["workloads"]] == [
        ("Deployment", "web"),
        ("ConfigMap", "queries"),
    ]
    assert first["workloads"][0]["revision"] == second["workloads"][0]["revision"]  # template unchanged
    assert first["workloads"][1]["revision"] != second["workloads"][1]["revision"]
    with psycopg.connect(fresh_database) as conn:
        revisions = conn.execute("SELECT kind, count(*) FROM workload_revisions GROUP BY kind ORDER BY kind")
        assert revisions.fetchall() == [("ConfigMap", 2), ("Deployment", 1)]
    # The timeline's query lists them per checkpoint.
    listed = await world.runtime.store.list_checkpoints("p-1")
    assert [row.workloads for row in listed] == [first["workloads"], second["workloads"]]


async def test_a_selector_adds_the_labelled_workloads(world: World) -> None:
    world.neon.project()
    cm = workload("ConfigMap", "flags", data={"beta": "on"})
    cm["metadata"]["labels"] = {"app.kubernetes.io/part-of": "shop"}
    world.kube.put_workload(cm)
    deploy(world, "v1")

    status = await checkpoint(
        world,
        "v1",
        "ck-1",
        workloads=WORKLOADS[:1],
        workloadSelector={"matchLabels": {"app.kubernetes.io/part-of": "shop"}},
    )

    assert [w["name"] for w in status["workloads"]] == ["web", "flags"]


async def test_a_missing_workload_fails_the_checkpoint_before_any_snapshot(world: World) -> None:
    world.neon.project()
    world.kube.put_workload(workload("Deployment", "web"))

    with pytest.raises(kopf.PermanentError):
        await checkpoint(world, "v1", "ck-1", workloads=WORKLOADS)

    ready = world.kube.condition(CHECKPOINTS, "v1", "Ready")
    assert ready["reason"] == "WorkloadNotFound"
    assert "ConfigMap apps/queries" in ready["message"]
    assert world.calls.to("POST", "/snapshot") == []


# -- restore --------------------------------------------------------------------------------------------


async def test_a_finalize_brings_the_code_back_after_the_database(world: World) -> None:
    await v1_then_v3(world)

    status = await restore(world, "back", "r-1", checkpointRef={"name": "v1"})

    assert status["phase"] == "Succeeded"
    assert image(world) == "web:v1" and queries(world) == "SELECT * FROM v1"
    assert world.kube.workload_of("Deployment", "web")["spec"]["replicas"] == 2
    condition = world.kube.condition(CHECKPOINT_RESTORES, "back", "WorkloadsRestored")
    assert condition["status"] == "True"
    assert [w["state"] for w in status["workloads"]] == ["Applied", "Applied"]
    # Database first, then the code: every apply came after the restore's request.
    post = world.calls.to("POST", "/restore")[0]
    assert [verb for verb, *_ in world.kube.workload_writes] == ["apply", "apply"]
    assert post.patches_before < len(world.kube.patches)


async def test_quiesce_scales_to_zero_before_the_database_restore(world: World) -> None:
    await v1_then_v3(world)
    at_post: list[int] = []
    world.neon.watch(
        "POST",
        r"/snapshots/.*/restore",
        lambda _: at_post.append(world.kube.workload_of("Deployment", "web")["spec"]["replicas"]),
    )

    await restore(world, "back", "r-1", checkpointRef={"name": "v1"}, quiesce=True)

    assert at_post == [0]
    assert world.kube.workload_of("Deployment", "web")["spec"]["replicas"] == 2
    assert [verb for verb, *_ in world.kube.workload_writes] == ["patch", "apply", "apply"]


async def test_ignore_leaves_the_workloads_alone(world: World) -> None:
    await v1_then_v3(world)

    status = await restore(world, "back", "r-1", checkpointRef={"name": "v1"}, workloads="Ignore")

    assert status["phase"] == "Succeeded" and image(world) == "web:v3"
    assert world.kube.workload_writes == []


async def test_a_failure_between_two_workloads_resumes_without_a_second_database_restore(
    world: World,
) -> None:
    await v1_then_v3(world)
    world.kube.fail_workload_writes = 0

    original = world.kube.apply_workload
    calls = {"n": 0}

    async def second_fails(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 2:
            world.kube.fail_workload_writes = 1
        return await original(*args, **kwargs)

    world.kube.apply_workload = second_fails  # type: ignore[method-assign]
    with pytest.raises(kopf.TemporaryError):
        await restore(world, "back", "r-1", checkpointRef={"name": "v1"})
    assert image(world) == "web:v1" and queries(world) == "SELECT * FROM v3"

    sent = len(world.calls.sent)
    await RestoreFlow(world.runtime, world.kube.body_of(CHECKPOINT_RESTORES, "back"), LOGGER).create()

    # The database part was recorded as done: the resumed run does not even look at Neon's branches.
    assert world.calls.sent[sent:] == []
    assert world.kube.status_of(CHECKPOINT_RESTORES, "back")["phase"] == "Succeeded"
    assert queries(world) == "SELECT * FROM v1"
    assert len(world.calls.to("POST", "/restore")) == 1
    applied = [(kind, name) for verb, kind, name, _ in world.kube.workload_writes if verb == "apply"]
    assert applied == [("Deployment", "web"), ("ConfigMap", "queries")]


async def test_succeeded_waits_for_the_controller_to_observe_the_new_generation(world: World) -> None:
    await v1_then_v3(world)
    world.kube.controller_running = False

    with pytest.raises(kopf.PermanentError):
        await restore(world, "back", "r-1", checkpointRef={"name": "v1"}, waitForReady={"timeoutSeconds": 1})

    condition = world.kube.condition(CHECKPOINT_RESTORES, "back", "WorkloadsRestored")
    assert condition["status"] == "False" and condition["reason"] == "WorkloadNotReady"
    assert "observed Deployment/web" in condition["message"]


def applying_said(world: World) -> bool:
    return any(
        patch.get("message", "").endswith("applying the recorded workloads")
        for _, _, patch in world.kube.patches
    )


async def test_status_says_applying_only_while_the_controller_is_slow(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(code, "SAY_APPLYING_AFTER", 0.05)
    await v1_then_v3(world)
    await restore(world, "quick", "r-1", checkpointRef={"name": "v1"})
    assert not applying_said(world)  # observed at once: the next status write is Succeeded
    deploy(world, "v3")
    world.kube.controller_running = False

    async def catch_up() -> None:
        await asyncio.sleep(0.3)
        web = world.kube.workload_of("Deployment", "web")
        web.setdefault("status", {})["observedGeneration"] = web["metadata"]["generation"]

    late = asyncio.create_task(catch_up())
    status = await restore(world, "slow", "r-2", checkpointRef={"name": "v1"})
    await late

    assert status["phase"] == "Succeeded" and image(world) == "web:v1"
    assert applying_said(world)


# -- undo -----------------------------------------------------------------------------------------------


async def test_an_undo_puts_back_the_branch_and_the_workloads_a_restore_replaced(world: World) -> None:
    project = await v1_then_v3(world)
    await restore(world, "back", "r-1", checkpointRef={"name": "v1"})
    replaced = world.kube.status_of(CHECKPOINT_RESTORES, "back")["replacedBranchId"]
    production = project.branch_named("production")
    assert production is not None

    status = await restore(world, "undo", "u-1", undo={"restoreRef": {"name": "back"}})

    assert status["phase"] == "Succeeded", status
    post = world.calls.to("POST", f"/branches/{production['id']}/restore")
    assert [p.body for p in post] == [
        {"source_branch_id": replaced, "preserve_under_name": undo_preserve_name("u-1")}
    ]
    assert status["restoredBranchId"] == production["id"]  # same branch, same connection string
    assert image(world) == "web:v3" and queries(world) == "SELECT * FROM v3"
    assert world.kube.workload_of("Deployment", "web")["spec"]["replicas"] == 3


async def test_an_undo_is_refused_when_the_old_branch_is_gone(world: World) -> None:
    project = await v1_then_v3(world)
    await restore(world, "back", "r-1", checkpointRef={"name": "v1"})
    del project.branches[world.kube.status_of(CHECKPOINT_RESTORES, "back")["replacedBranchId"]]

    with pytest.raises(kopf.PermanentError):
        await restore(world, "undo", "u-1", undo={"restoreRef": {"name": "back"}})

    condition = world.kube.condition(CHECKPOINT_RESTORES, "undo", "Succeeded")
    assert condition["reason"] == "OldBranchGone"
    assert "no longer exists" in condition["message"]
    assert world.calls.to("POST", "/branches/") == [] or all(
        not p.path.endswith("/restore") for p in world.calls.to("POST", "/branches/")
    )
    assert image(world) == "web:v1"


# -- preview --------------------------------------------------------------------------------------------


async def test_a_preview_copies_the_workloads_onto_its_database_and_deletes_them_with_itself(
    world: World,
) -> None:
    world.neon.project()
    deploy(world, "v1")
    pointed = [{**WORKLOADS[0], "databaseUrl": {"env": "DATABASE_URL"}}, WORKLOADS[1]]
    original = world.kube.workload_of("Deployment", "web")
    original["spec"]["template"]["spec"]["volumes"] = [{"name": "q", "configMap": {"name": "queries"}}]
    await checkpoint(world, "v1", "ck-1", workloads=pointed)
    deploy(world, "v3")

    status = await restore(world, "show-v1", "p-1", checkpointRef={"name": "v1"}, mode="Preview")

    assert status["phase"] == "Succeeded", status
    assert [(w["kind"], w["copy"]) for w in status["workloads"]] == [
        ("Deployment", "web-show-v1"),
        ("ConfigMap", "queries-show-v1"),
    ]
    copy = world.kube.workload_of("Deployment", "web-show-v1")
    pod = copy["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "web:v1"
    assert pod["containers"][0]["env"] == [
        {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": status["previewSecretName"], "key": "uri"}},
        }
    ]
    assert pod["volumes"] == [{"name": "q", "configMap": {"name": "queries-show-v1"}}]
    assert "app" not in copy["spec"]["template"]["metadata"]["labels"]  # production's Service skips it
    assert world.kube.workload_of("ConfigMap", "queries-show-v1")["data"] == {"list": "SELECT * FROM v1"}
    assert image(world) == "web:v3"  # production untouched

    await RestoreFlow(world.runtime, world.kube.body_of(CHECKPOINT_RESTORES, "show-v1"), LOGGER).delete()

    assert ("Deployment", "apps", "web-show-v1") not in world.kube.workloads
    assert ("ConfigMap", "apps", "queries-show-v1") not in world.kube.workloads
    assert ("Deployment", "apps", "web") in world.kube.workloads


async def test_a_preview_points_a_copy_reading_a_secret_key_at_its_database_and_skips_one_that_does_not(
    world: World,
) -> None:
    """databaseUrl.secretKeyRef: the copy's env var carrying that key reads the preview Secret; a workload
    naming a key none of its containers reads is not copied, and the condition says so."""
    world.neon.project()
    prod = {"secretKeyRef": {"name": "prod-db", "key": "url"}}
    world.kube.put_workload(
        workload("Deployment", "web", image="web:v1", env=[{"name": "DB", "valueFrom": prod}])
    )
    world.kube.put_workload(workload("Deployment", "api", image="api:v1", env=[{"name": "A", "value": "1"}]))
    url = {"secretKeyRef": {"name": "prod-db", "key": "url"}}
    listed = [
        {"kind": "Deployment", "name": "web", "databaseUrl": url},
        {"kind": "Deployment", "name": "api", "databaseUrl": url},
    ]
    await checkpoint(world, "v1", "ck-1", workloads=listed)

    status = await restore(world, "show-v1", "p-1", checkpointRef={"name": "v1"}, mode="Preview")

    assert status["phase"] == "Succeeded", status
    assert [(w["kind"], w["copy"]) for w in status["workloads"]] == [("Deployment", "web-show-v1")]
    env = world.kube.workload_of("Deployment", "web-show-v1")["spec"]["template"]["spec"]["containers"][0][
        "env"
    ]
    assert env == [
        {"name": "DB", "valueFrom": {"secretKeyRef": {"name": status["previewSecretName"], "key": "uri"}}}
    ]
    assert ("Deployment", "apps", "api-show-v1") not in world.kube.workloads
    condition = world.kube.condition(CHECKPOINT_RESTORES, "show-v1", "WorkloadsRestored")
    assert (condition["status"], condition["reason"]) == ("True", "Copied")
    assert "not copied: Deployment/api: no container reads Secret prod-db key url" in condition["message"]


async def test_a_preview_without_a_database_url_entry_makes_no_copies_and_says_why(world: World) -> None:
    await v1_then_v3(world)

    status = await restore(world, "show-v1", "p-1", checkpointRef={"name": "v1"}, mode="Preview")

    assert status["phase"] == "Succeeded"
    condition = world.kube.condition(CHECKPOINT_RESTORES, "show-v1", "WorkloadsRestored")
    assert (condition["status"], condition["reason"]) == ("False", "NoDatabaseUrl")
    assert "databaseUrl" in condition["message"]
    assert world.kube.workload_writes == []
