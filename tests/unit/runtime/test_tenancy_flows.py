"""Tenancy in the flows (issue 20 item 2), on the flow kit with tenancy `enforced`: a Checkpoint or a
restore on a project its namespace may not use fails `ProjectNotAllowed` before any Neon request, with the
default key or its own; a deletion that Neon may not be asked about lets the resource go and says what is
left."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import kopf
import pytest

from neon_checkpoints.checkpoint.flow import CheckpointFlow
from neon_checkpoints.core.tenancy import ALLOWED_PROJECTS_ANNOTATION
from neon_checkpoints.core.tenancy import DEFAULT_KEY_ANNOTATION as DEFAULT_KEY_OK
from neon_checkpoints.names import CHECKPOINT_RESTORES, CHECKPOINTS
from neon_checkpoints.restore.flow import RestoreFlow
from tests.unit.flowkit import DEFAULT_KEY, World, open_world

pytestmark = pytest.mark.postgres

LOGGER = logging.getLogger("tests.tenancy")
TENANT_KEY = "napi_tenant_b_key"


@pytest.fixture
async def world(fresh_database: str) -> AsyncIterator[World]:
    async with open_world(fresh_database, tenancy="enforced") as opened:
        opened.neon.project("p-a")  # tenant A's, reached by the default key
        opened.neon.project("p-b", keys=(DEFAULT_KEY, TENANT_KEY))
        opened.kube.secrets[("apps", "tenant-key")] = {"apiKey": TENANT_KEY}
        yield opened


def checkpoint(world: World, project: str, name: str = "v1", **spec: Any) -> CheckpointFlow:
    world.kube.apply(
        CHECKPOINTS, "Checkpoint", name, {"projectId": project, "branch": "production", **spec}, uid=name
    )
    return CheckpointFlow(world.runtime, world.kube.body_of(CHECKPOINTS, name), LOGGER)


def allow(world: World, projects: str, *, default_key: bool) -> None:
    world.kube.namespaces["apps"] = {ALLOWED_PROJECTS_ANNOTATION: projects}
    if default_key:
        world.kube.namespaces["apps"][DEFAULT_KEY_OK] = "allowed"


def refused(world: World, plural: str, name: str, type: str) -> str:
    condition = world.kube.condition(plural, name, type)
    assert world.kube.status_of(plural, name)["phase"] == "Failed"
    assert condition["reason"] == "ProjectNotAllowed", condition
    return str(condition["message"])


OWN_KEY = {"credentialsSecretRef": {"name": "tenant-key"}}


@pytest.mark.parametrize(
    ("annotations", "spec", "because"),
    [
        pytest.param(None, {}, "names no Neon projects", id="unannotated-namespace"),
        pytest.param(("p-b", True), {}, "p-a is not one", id="other-tenants-project-default-key"),
        pytest.param(("p-b", True), OWN_KEY, "p-a is not one", id="other-tenants-project-own-key"),
        pytest.param(("p-a", False), {}, "default Neon key may not", id="default-key-not-allowed"),
    ],
)
async def test_a_checkpoint_on_a_project_its_namespace_may_not_use_fails_before_any_neon_call(
    world: World, annotations: tuple[str, bool] | None, spec: dict[str, Any], because: str
) -> None:
    if annotations is not None:
        allow(world, annotations[0], default_key=annotations[1])
    with pytest.raises(kopf.PermanentError):
        await checkpoint(world, "p-a", **spec).create()
    assert because in refused(world, CHECKPOINTS, "v1", "Ready")
    assert world.calls.seen == [], "Neon was asked nothing"
    assert [e.reason for e in world.kube.events][-1] == "Failed"


async def test_allowed_projects_work_with_the_key_the_namespace_may_use(world: World) -> None:
    allow(world, "p-b", default_key=False)
    await checkpoint(world, "p-b", **OWN_KEY).create()
    assert world.kube.status_of(CHECKPOINTS, "v1")["phase"] == "Ready"
    assert world.calls.api_keys() == {TENANT_KEY}


@pytest.mark.parametrize("mode", ["Finalize", "Preview"])
async def test_a_restore_of_a_project_no_longer_allowed_fails_before_any_neon_call(
    world: World, mode: str
) -> None:
    allow(world, "p-a", default_key=True)
    await checkpoint(world, "p-a").create()
    allow(world, "p-b", default_key=True)  # the admin moved the namespace to another project
    seen = len(world.calls.seen)
    world.kube.apply(
        CHECKPOINT_RESTORES,
        "CheckpointRestore",
        "back",
        {"checkpointRef": {"name": "v1"}, "mode": mode},
        uid="r",
    )
    with pytest.raises(kopf.PermanentError):
        await RestoreFlow(world.runtime, world.kube.body_of(CHECKPOINT_RESTORES, "back"), LOGGER).create()
    assert "p-a is not one" in refused(world, CHECKPOINT_RESTORES, "back", "Succeeded")
    assert world.calls.seen[seen:] == [], "Neon was asked nothing"
    row = await world.runtime.store.get_restore("r")
    assert row is not None and row.phase == "Failed"


async def test_deleting_a_checkpoint_neon_may_not_be_asked_about_lets_it_go_and_says_what_is_left(
    world: World,
) -> None:
    allow(world, "p-a", default_key=True)
    await checkpoint(world, "p-a").create()
    snapshot = world.kube.status_of(CHECKPOINTS, "v1")["snapshotId"]
    allow(world, "p-b", default_key=True)
    seen = len(world.calls.seen)

    await CheckpointFlow(world.runtime, world.kube.body_of(CHECKPOINTS, "v1"), LOGGER).delete()

    assert world.calls.seen[seen:] == []
    left = [e for e in world.kube.events if e.reason == "SnapshotLeftBehind"]
    assert len(left) == 1 and left[0].type == "Warning" and snapshot in left[0].message
    row = await world.runtime.store.get_checkpoint("v1")
    assert row is not None and row.deleted_at is not None
