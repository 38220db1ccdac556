"""kstatus on a Checkpoint's flow (flowkit: fake cluster and Neon, the real meta store): Reconciling while it
works, Stalled with the reason when blocked or given up, both False once Ready; a wait lasting twice the p99
of the learned waits shows Stalled (OperationOverdue) while still waiting; a run resumed on a resource that
was Reconciling for longer than that shows Stalled (Interrupted) until it is Ready."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import kopf
import pytest

from neon_api import OperationPace
from neon_checkpoints.checkpoint.flow import CheckpointFlow
from neon_checkpoints.core.times import rfc3339, utcnow
from neon_checkpoints.names import CHECKPOINTS
from tests.unit.flowkit import World

pytestmark = pytest.mark.postgres

LOGGER = logging.getLogger("tests.checkpoint.kstatus")
SNAPSHOT_ACTIONS = ("create_branch", "timeline_archive")  # the fake's snapshot operations


def apply(world: World, **spec: Any) -> None:
    world.kube.apply(
        CHECKPOINTS, "Checkpoint", "v1", {"projectId": "p-1", "branch": "production", **spec}, uid="u-1"
    )


def flow(world: World) -> CheckpointFlow:
    return CheckpointFlow(world.runtime, world.kube.body_of(CHECKPOINTS, "v1"), LOGGER)


def kstatus(world: World) -> dict[str, tuple[str, str]]:
    conditions = world.kube.status_of(CHECKPOINTS, "v1").get("conditions") or []
    return {c["type"]: (c["status"], c["reason"]) for c in conditions}


async def test_ready_leaves_neither_reconciling_nor_stalled(world: World) -> None:
    world.neon.project()
    apply(world)
    await flow(world).create()
    assert kstatus(world) == {
        "Ready": ("True", "SnapshotReady"),
        "Reconciling": ("False", "Idle"),
        "Stalled": ("False", "Idle"),
    }
    status = world.kube.status_of(CHECKPOINTS, "v1")
    assert status["observedGeneration"] == world.kube.body_of(CHECKPOINTS, "v1").metadata.get("generation")
    # While it worked, it said so: the write that recorded the accepted snapshot was Reconciling.
    accepted = next(fields for _, _, fields in world.kube.patches if fields.get("phase") == "Creating")
    reconciling = {c["type"]: c["status"] for c in accepted["conditions"]}
    assert (reconciling["Reconciling"], reconciling["Stalled"]) == ("True", "False")


async def test_a_missing_secret_is_stalled_with_its_reason(world: World) -> None:
    world.neon.project()
    apply(world, credentialsSecretRef={"name": "absent"})
    with pytest.raises(kopf.TemporaryError):
        await flow(world).create()
    assert kstatus(world)["Stalled"] == ("True", "SecretNotFound")
    assert kstatus(world)["Reconciling"][0] == "False"


async def test_a_neon_refusal_is_stalled(world: World) -> None:
    world.neon.project()
    world.neon.fail("POST", "/snapshot$", 422, "branch name is not valid")
    apply(world)
    with pytest.raises(kopf.PermanentError):
        await flow(world).create()
    assert kstatus(world)["Stalled"] == ("True", "NeonRejected")


async def test_the_snapshot_cap_is_stalled_while_retried(world: World) -> None:
    world.neon.project()
    world.neon.fail("POST", "/snapshot$", 422, "snapshot limit reached")
    apply(world)
    with pytest.raises(kopf.TemporaryError):
        await flow(world).create()
    assert kstatus(world)["Stalled"] == ("True", "SnapshotLimitReached")


async def test_a_wait_past_twice_the_learned_p99_is_stalled_while_it_goes_on(world: World) -> None:
    world.neon.project()
    world.neon.stall = True  # the operations never finish (the wait times out after 1 s)
    pace: OperationPace = world.runtime.pace
    for _ in range(3):
        pace.learn(SNAPSHOT_ACTIONS, 0.2, 0.3)  # waits of 0.25 s: stalled after 0.5 s
    apply(world)
    task = asyncio.create_task(flow(world).create())
    await asyncio.sleep(0.8)
    during = kstatus(world)
    with pytest.raises(kopf.TemporaryError):
        await task
    assert during["Reconciling"][0] == "True"
    assert during["Stalled"] == ("True", "OperationOverdue")
    assert any(e.reason == "OperationOverdue" and e.type == "Warning" for e in world.kube.events)


async def test_a_run_resumed_long_after_it_began_is_stalled_until_ready(world: World) -> None:
    world.neon.project()
    apply(world)
    begun = rfc3339(utcnow() - dt.timedelta(minutes=10))  # longer than the 120 s before anything is learned
    await world.kube.patch_status(
        CHECKPOINTS,
        "apps",
        "v1",
        {
            "phase": "Pending",
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "Received", "lastTransitionTime": begun},
                {"type": "Reconciling", "status": "True", "reason": "Received", "lastTransitionTime": begun},
                {"type": "Stalled", "status": "False", "reason": "Progressing", "lastTransitionTime": begun},
            ],
        },
    )
    await flow(world).create()
    flagged = [
        fields for _, _, fields in world.kube.patches if "phase" not in fields and "conditions" in fields
    ]
    assert flagged, "no Stalled write before resuming"
    assert {c["type"]: (c["status"], c["reason"]) for c in flagged[0]["conditions"]}["Stalled"] == (
        "True",
        "Interrupted",
    )
    # Sticky while the run went on, cleared by Ready.
    middle = next(fields for _, _, fields in world.kube.patches if fields.get("phase") == "Creating")
    assert {c["type"]: c["reason"] for c in middle["conditions"]}["Stalled"] == "Interrupted"
    assert kstatus(world)["Stalled"] == ("False", "Idle")
