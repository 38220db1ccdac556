"""Settling in the flows (issue 20 item 8), on the fake cluster and fake Neon with the real meta store:
restore `a` is accepted by Neon and the operator never hears back (as when killed right after); restore
`b` on the same project runs first, then `a` resumes. Neon ran `a` first, so the timeline says so: `a`
ends superseded by `b`, production's recorded state is `b`'s, and the next checkpoint descends from
what Neon's order says."""

from __future__ import annotations

import logging
from typing import Any

import kopf
import pytest

from neon_checkpoints.checkpoint.flow import CheckpointFlow
from neon_checkpoints.names import CHECKPOINT_RESTORES, CHECKPOINTS
from neon_checkpoints.restore.flow import RestoreFlow
from tests.unit.flowkit import World

pytestmark = pytest.mark.postgres

LOGGER = logging.getLogger("tests.settle.flows")


async def checkpoint(world: World, name: str) -> dict[str, Any]:
    """Apply Checkpoint `name` (unless it exists: a resumed run) and run its create flow."""
    if (CHECKPOINTS, "apps", name) not in world.kube.objects:
        world.kube.apply(
            CHECKPOINTS, "Checkpoint", name, {"projectId": "p-1", "branch": "production"}, uid=f"uid-{name}"
        )
    await CheckpointFlow(world.runtime, world.kube.body_of(CHECKPOINTS, name), LOGGER).create()
    return world.kube.status_of(CHECKPOINTS, name)


def restore(world: World, name: str, to: str) -> RestoreFlow:
    if (CHECKPOINT_RESTORES, "apps", name) not in world.kube.objects:
        world.kube.apply(
            CHECKPOINT_RESTORES, "CheckpointRestore", name, {"checkpointRef": {"name": to}}, uid=f"uid-{name}"
        )
    return RestoreFlow(world.runtime, world.kube.body_of(CHECKPOINT_RESTORES, name), LOGGER)


async def test_a_restore_resumed_after_a_later_one_is_superseded_and_lineage_follows_neon(
    world: World,
) -> None:
    project = world.neon.project()
    v1 = await checkpoint(world, "v1")
    v2 = await checkpoint(world, "v2")
    world.neon.lose_answer("POST", "/restore$")  # Neon restores; the operator never hears back
    with pytest.raises(kopf.TemporaryError):
        await restore(world, "a", "v1").create()

    await restore(world, "b", "v2").create()  # runs first, settling `a` before it asks Neon
    await restore(world, "a", "v1").create()  # resumed

    store = world.runtime.store
    a, b = await store.get_restore("uid-a"), await store.get_restore("uid-b")
    assert a is not None and b is not None
    assert a.database_restored_at and b.database_restored_at
    assert a.database_restored_at < b.database_restored_at, "Neon ran a first"
    assert a.completed_at and b.completed_at and a.completed_at < b.completed_at
    production = project.branch_named("production")
    assert production is not None and b.restored_branch_id == production["id"]
    assert b.replaced_branch_id == a.restored_branch_id
    a_status = world.kube.status_of(CHECKPOINT_RESTORES, "a")
    b_status = world.kube.status_of(CHECKPOINT_RESTORES, "b")
    assert a_status["phase"] == b_status["phase"] == "Succeeded"
    assert "until CheckpointRestore b" in a_status["message"], a_status["message"]
    assert "is now Checkpoint v2" in b_status["message"]

    v3 = await checkpoint(world, "v3")
    assert v3["parentCheckpointId"] == v2["checkpointId"], "production was at v2 (b's) when v3 was taken"
    assert v2["parentCheckpointId"] == v1["checkpointId"]


async def test_a_checkpoint_interrupted_after_its_snapshot_keeps_its_place_before_a_later_restore(
    world: World,
) -> None:
    project = world.neon.project()
    v1 = await checkpoint(world, "v1")
    world.neon.lose_answer("POST", "/snapshot")  # Neon takes the snapshot; the operator never hears back
    with pytest.raises(kopf.TemporaryError):
        await checkpoint(world, "k")
    await restore(world, "r", "v1").create()  # settles k's snapshot first, then restores v1
    k = await checkpoint(world, "k")  # resumed: adopts its snapshot
    after = await checkpoint(world, "after")

    assert len(project.snapshots) == 3
    assert k["parentCheckpointId"] == v1["checkpointId"], "k's snapshot was taken before the restore"
    assert after["parentCheckpointId"] == v1["checkpointId"], "after the restore production is v1"
    row = await world.runtime.store.get_checkpoint("uid-k")
    assert row is not None and row.phase == "Ready"
