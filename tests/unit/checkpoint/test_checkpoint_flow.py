"""The Checkpoint create, delete and expiry-edit flows, run without kopf on a fake cluster and a fake Neon
(tests/unit/flowkit) with the real meta store: every resume branch of a create, and what each failure
leaves in status, in the meta DB and in Neon."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import kopf
import pytest

from neon_api.calls.operations import POLL_PAGE
from neon_checkpoints.checkpoint.flow import CheckpointFlow
from neon_checkpoints.core.times import rfc3339, utcnow
from neon_checkpoints.meta.records import RestoreRecord
from neon_checkpoints.names import CHECKPOINTS, snapshot_name
from neon_checkpoints.runtime.runtime import Runtime
from tests.unit.flowkit import World

pytestmark = pytest.mark.postgres

UID = "ckpt-uid-1"
SNAPSHOT_NAME = snapshot_name(UID)
TENANT_KEY = "napi_tenant_a_key"
LOGGER = logging.getLogger("tests.checkpoint.flow")
POLL = {"limit": str(POLL_PAGE)}  # a poll by listing: the project's newest operations


def apply_checkpoint(world: World, created: str = "2026-12-01T10:00:00Z", **spec: Any) -> None:
    world.kube.apply(
        CHECKPOINTS,
        "Checkpoint",
        "v1",
        {"projectId": "p-1", "branch": "production", "source": {"commit": "3f2c9e1"}, **spec},
        uid=UID,
        created=created,
    )


def flow(world: World) -> CheckpointFlow:
    """The flow as the next handler run builds it: on the stored object, with its status so far."""
    return CheckpointFlow(world.runtime, world.kube.body_of(CHECKPOINTS, "v1"), LOGGER)


def status(world: World) -> dict[str, Any]:
    return world.kube.status_of(CHECKPOINTS, "v1")


def ready(world: World) -> dict[str, Any]:
    return world.kube.condition(CHECKPOINTS, "v1", "Ready")


def op_ids(entries: list[dict[str, str]]) -> list[str]:
    return [entry["id"] for entry in entries]


async def meta_row(runtime: Runtime) -> Any:
    return await runtime.store.get_checkpoint(UID)


# -- create ----------------------------------------------------------------------------------------------


async def test_fresh_create_snapshots_the_branch_named_exactly_and_records_before_waiting(
    world: World,
) -> None:
    project = world.neon.project()
    production = project.branch_named("production")
    assert production is not None
    # `search=production` also returns these: only the exact name counts.
    project.add_branch("production (old)")
    project.add_branch("production-copy")
    apply_checkpoint(world)

    await flow(world).create()

    [post] = world.calls.to("POST", "/snapshot")
    assert post.path == f"/projects/p-1/branches/{production['id']}/snapshot"
    assert post.params == {"name": SNAPSHOT_NAME} and post.body is None  # query parameters only
    snapshot = project.snapshot_named(SNAPSHOT_NAME)
    assert snapshot is not None and snapshot["source_branch_id"] == production["id"]
    accepted = [op["id"] for op in project.operations]
    # Before the first poll of an operation, status already named the snapshot and the operations.
    first_poll = next(s for s in world.calls.sent if s.path.endswith("/operations"))
    written = {}
    for _, _, fields in world.kube.patches[: first_poll.patches_before]:
        written.update(fields)
    assert written["snapshotId"] == snapshot["id"]
    assert op_ids(written["operations"]) == accepted
    assert written["phase"] == "Creating"

    final = status(world)
    assert final["phase"] == "Ready"
    assert (ready(world)["status"], ready(world)["reason"]) == ("True", "SnapshotReady")
    assert final["snapshotId"] == snapshot["id"] and final["snapshotName"] == SNAPSHOT_NAME
    assert final["sourceBranchId"] == production["id"] and final["branch"] == "production"
    assert final["lsn"] == "0/1A2B3C4"  # filled by Neon once the operations finished
    assert [op["status"] for op in final["operations"]] == ["finished", "finished"]
    row = await meta_row(world.runtime)
    assert row is not None
    assert (row.phase, row.snapshot_id, row.lsn) == ("Ready", snapshot["id"], "0/1A2B3C4")
    assert (row.project_id, row.branch_name, row.source_branch_id) == ("p-1", "production", production["id"])
    assert row.source == {"commit": "3f2c9e1"} and row.credentials is None
    assert final["checkpointId"] == row.id
    assert [(e.type, e.reason) for e in world.kube.events] == [
        ("Normal", "Pending"),
        ("Normal", "Creating"),
        ("Normal", "Ready"),
    ]
    assert world.calls.api_keys() == {"napi_operator_default_key"}


async def test_resumed_during_the_wait_adopts_the_snapshot_and_its_recorded_operations(world: World) -> None:
    project = world.neon.project()
    apply_checkpoint(world)
    world.neon.stall = True  # the first attempt dies waiting (here: its wait times out)
    with pytest.raises(kopf.TemporaryError):
        await flow(world).create()
    recorded = status(world)["operations"]
    assert status(world)["phase"] == "Creating" and ready(world)["reason"] == "OperationTimeout"

    world.neon.stall = False
    await flow(world).create()

    assert len(world.calls.to("POST", "/snapshot")) == 1, "no second snapshot"
    assert len(project.snapshots) == 1
    full_listings = [s for s in world.calls.to("GET", "/operations") if s.params != POLL]
    assert full_listings == [], "the recorded operations are what it waits for"
    final = status(world)
    assert final["phase"] == "Ready"
    assert op_ids(final["operations"]) == op_ids(recorded)
    assert [op["status"] for op in final["operations"]] == ["finished", "finished"]
    row = await meta_row(world.runtime)
    assert row is not None and row.snapshot_id == final["snapshotId"]


async def test_resumed_before_anything_was_recorded_waits_for_the_projects_operations_since_the_snapshot(
    world: World,
) -> None:
    project = world.neon.project()
    # An older operation that never ends: waiting for it would time out.
    older = project.add_operation("check_availability", status="cancelling")
    older["created_at"] = "2026-12-01T09:00:00Z"
    apply_checkpoint(world)
    world.neon.lose_answer("POST", "/snapshot$")  # Neon took the snapshot; the answer never came back
    with pytest.raises(kopf.TemporaryError):
        await flow(world).create()
    assert "snapshotId" not in status(world) and "operations" not in status(world)
    snapshot_ops = [op["id"] for op in project.operations if op is not older]

    await flow(world).create()

    assert len(world.calls.to("POST", "/snapshot")) == 1, "no second snapshot"
    assert next(s.params for s in world.calls.to("GET", "/projects/p-1/operations")) == {"limit": "1000"}
    final = status(world)
    assert final["phase"] == "Ready"
    assert sorted(op_ids(final["operations"])) == sorted(snapshot_ops)
    assert final["snapshotId"] == project.snapshot_named(SNAPSHOT_NAME)["id"]  # type: ignore[index]


async def test_a_branch_that_is_not_there_fails_the_checkpoint(world: World) -> None:
    project = world.neon.project()
    project.add_branch("staging (old)")  # `search=staging` finds it; it is not `staging`
    apply_checkpoint(world, branch="staging")

    with pytest.raises(kopf.PermanentError):
        await flow(world).create()

    assert status(world)["phase"] == "Failed"
    assert (ready(world)["status"], ready(world)["reason"]) == ("False", "BranchNotFound")
    assert "staging" in ready(world)["message"]
    assert world.kube.events[-1].type == "Warning"
    assert world.calls.mutations() == []
    assert await meta_row(world.runtime) is None


async def test_a_tenant_key_is_used_for_every_request_and_recorded_in_the_meta_row(world: World) -> None:
    world.neon.project(keys=[TENANT_KEY])  # the operator's key cannot see this project
    world.kube.secrets[("apps", "tenant-neon-api")] = {"apiKey": TENANT_KEY}
    apply_checkpoint(world, credentialsSecretRef={"name": "tenant-neon-api"})

    await flow(world).create()

    assert status(world)["phase"] == "Ready"
    assert world.calls.api_keys() == {TENANT_KEY}
    row = await meta_row(world.runtime)
    assert row is not None
    assert (row.credentials_secret_name, row.credentials_secret_key) == ("tenant-neon-api", "apiKey")
    assert TENANT_KEY not in str(status(world))


async def test_a_missing_secret_is_retried_and_nothing_is_sent_to_neon(world: World) -> None:
    world.neon.project(keys=[TENANT_KEY])
    apply_checkpoint(world, credentialsSecretRef={"name": "tenant-neon-api"})

    with pytest.raises(kopf.TemporaryError):
        await flow(world).create()

    assert status(world)["phase"] == "Pending"
    assert ready(world)["reason"] == "SecretNotFound"
    assert world.calls.sent == []


@pytest.mark.parametrize(
    ("refusal", "status_code", "reason"),
    [
        ("key rejected", 401, "NeonUnauthorized"),
        ("key lacks permission", 403, "NeonUnauthorized"),
        ("project or branch gone", 404, "NotFound"),
        ("branch not ready", 422, "NeonRejected"),
    ],
)
async def test_a_refused_snapshot_fails_with_the_reason(
    world: World, refusal: str, status_code: int, reason: str
) -> None:
    project = world.neon.project()
    apply_checkpoint(world)
    # Twice: a 404 is first taken for a stale branch id (looked up again, POSTed once more).
    world.neon.fail("POST", "/snapshot$", status_code, f"{refusal} (napi-like detail)", times=2)

    with pytest.raises(kopf.PermanentError):
        await flow(world).create()

    assert status(world)["phase"] == "Failed"
    assert (ready(world)["status"], ready(world)["reason"]) == ("False", reason)
    assert str(status_code) in ready(world)["message"]
    assert project.snapshots == {}
    assert await meta_row(world.runtime) is None


@pytest.mark.parametrize(
    ("status_code", "reason"),
    [(423, "NeonLocked"), (429, "NeonRateLimited"), (500, "NeonUnavailable"), (503, "NeonUnavailable")],
)
@pytest.mark.parametrize(
    ("where", "pattern", "phase"),
    [
        ("taking the snapshot", "/snapshot$", "Pending"),
        # Several operations are polled at once: one failed poll must still reach status as itself.
        ("waiting for its operations", "/operations$", "Creating"),
    ],
)
async def test_a_passing_failure_is_retried_in_the_same_phase_and_the_retry_finishes(
    world: World, status_code: int, reason: str, where: str, pattern: str, phase: str
) -> None:
    project = world.neon.project()
    apply_checkpoint(world)
    world.neon.fail("POST" if pattern == "/snapshot$" else "GET", pattern, status_code)

    with pytest.raises(kopf.TemporaryError):
        await flow(world).create()
    assert status(world)["phase"] == phase
    assert ready(world)["reason"] == reason

    await flow(world).create()
    assert status(world)["phase"] == "Ready"
    assert len(project.snapshots) == 1


# -- delete ----------------------------------------------------------------------------------------------


async def test_delete_with_deletion_policy_delete_deletes_the_snapshot(world: World) -> None:
    project = world.neon.project()
    apply_checkpoint(world)
    await flow(world).create()
    snapshot_id = status(world)["snapshotId"]
    listings = len(world.calls.to("GET", "/snapshots"))

    await flow(world).delete()

    assert [s.path for s in world.calls.to("DELETE", snapshot_id)] == [
        f"/projects/p-1/snapshots/{snapshot_id}"
    ]
    assert len(world.calls.to("GET", "/snapshots")) == listings, "status had the id: no lookup"
    assert project.snapshots == {}
    assert status(world)["phase"] == "Deleting"
    row = await meta_row(world.runtime)
    assert row is not None and row.deleted_at is not None


async def test_delete_with_deletion_policy_retain_keeps_the_snapshot(world: World) -> None:
    project = world.neon.project()
    apply_checkpoint(world, deletionPolicy="Retain")
    await flow(world).create()

    await flow(world).delete()

    assert world.calls.to("DELETE", "") == []
    assert len(project.snapshots) == 1
    row = await meta_row(world.runtime)
    assert row is not None and row.deleted_at is not None and row.snapshot_id is not None


async def test_a_checkpoint_that_failed_before_its_snapshot_owes_neon_nothing_on_delete(world: World) -> None:
    world.neon.project()
    apply_checkpoint(world, branch="staging")
    with pytest.raises(kopf.PermanentError):
        await flow(world).create()
    world.neon.keys.clear()  # whatever made it fail would also refuse any cleanup
    sent_before = len(world.calls.sent)

    await flow(world).delete()  # returns: kopf removes the finalizer

    assert world.calls.sent[sent_before:] == []
    assert status(world)["phase"] == "Deleting"


async def test_a_refused_snapshot_delete_lets_the_checkpoint_go_and_names_the_snapshot_left(
    world: World,
) -> None:
    """Always deletable (issue 20 item 5): a refusal would never go away, so it must not hold the
    finalizer (nor the namespace); what could not be cleaned up is recorded in a Warning Event."""
    project = world.neon.project()
    apply_checkpoint(world)
    await flow(world).create()
    snapshot_id = status(world)["snapshotId"]
    world.neon.fail("DELETE", "/snapshots/", 401)

    await flow(world).delete()  # returns: kopf removes the finalizer

    assert len(project.snapshots) == 1
    [left] = [e for e in world.kube.events if e.reason == "SnapshotLeftBehind"]
    assert left.type == "Warning" and snapshot_id in left.message and "401" in left.message
    row = await meta_row(world.runtime)
    assert row is not None and row.deleted_at is not None


async def test_a_snapshot_delete_neon_cannot_answer_now_is_retried_soon(world: World) -> None:
    project = world.neon.project()
    apply_checkpoint(world)
    await flow(world).create()
    world.neon.fail("DELETE", "/snapshots/", 503, times=100)

    with pytest.raises(kopf.TemporaryError) as raised:
        await flow(world).delete()

    assert raised.value.delay is not None and raised.value.delay <= 5
    assert len(project.snapshots) == 1
    row = await meta_row(world.runtime)
    assert row is not None and row.deleted_at is None


# -- spec edits ------------------------------------------------------------------------------------------


async def test_an_expiry_edit_moves_the_snapshots_expiry(world: World) -> None:
    project = world.neon.project()
    created = utcnow().replace(microsecond=0)
    apply_checkpoint(world, created=rfc3339(created), ttl="1h")
    await flow(world).create()
    snapshot = project.snapshot_named(SNAPSHOT_NAME)
    assert snapshot is not None and snapshot["expires_at"] == rfc3339(created + dt.timedelta(hours=1))

    stored = world.kube.objects[(CHECKPOINTS, "apps", "v1")]
    stored["spec"]["ttl"] = "3h"
    stored["metadata"]["generation"] = 2
    await flow(world).observe_spec_change()

    moved = created + dt.timedelta(hours=3)
    [patch] = world.calls.to("PATCH", f"/snapshots/{snapshot['id']}")
    assert patch.body == {"snapshot": {"expires_at": rfc3339(moved)}}
    assert snapshot["expires_at"] == rfc3339(moved)
    assert status(world)["expiresAt"] == rfc3339(moved)
    assert ready(world)["reason"] == "ExpiryChanged" and ready(world)["observedGeneration"] == 2
    assert status(world)["phase"] == "Ready"
    row = await meta_row(world.runtime)
    assert row is not None and row.expires_at == moved


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"source": {"prompt": "drop table\x00users"}}, "spec.source.prompt"),
        ({"source": {"steps": ["ok", "\x00"]}}, "spec.source.steps[1]"),
        ({"ttl": "999999999999d"}, "spec.ttl"),
        ({"ttl": "3651d"}, "spec.ttl"),
        ({"expiresAt": "9999-12-31T23:59:59Z"}, "spec.expiresAt"),
    ],
)
async def test_what_cannot_be_kept_fails_before_any_snapshot(
    world: World, spec: dict[str, Any], field: str
) -> None:
    """A NUL the meta database cannot store, or a lifetime past any valid date, is a Failed InvalidSpec
    naming the field, before Neon is asked anything (it used to retry forever after the snapshot)."""
    world.neon.project()
    apply_checkpoint(world, **spec)

    with pytest.raises(kopf.PermanentError):
        await flow(world).create()

    assert status(world)["phase"] == "Failed"
    assert ready(world)["reason"] == "InvalidSpec"
    assert field in ready(world)["message"]
    assert world.calls.sent == []
    assert await meta_row(world.runtime) is None


# -- requests per checkpoint (issue 16) --------------------------------------------------------------------


def apply_another(world: World, name: str, uid: str) -> CheckpointFlow:
    world.kube.apply(CHECKPOINTS, "Checkpoint", name, {"projectId": "p-1", "branch": "production"}, uid=uid)
    return CheckpointFlow(world.runtime, world.kube.body_of(CHECKPOINTS, name), LOGGER)


async def test_a_first_run_marks_create_pending_before_the_post_and_lists_no_snapshots(world: World) -> None:
    world.neon.project()
    world.neon.answer_lsn = True
    apply_checkpoint(world)

    await flow(world).create()

    [post] = world.calls.to("POST", "/snapshot")
    written: dict[str, Any] = {}
    for _, _, fields in world.kube.patches[: post.patches_before]:
        written.update(fields)
    assert written["createPending"] is True
    # Neither a lookup before the POST nor one after the wait (the POST's answer had the lsn).
    assert world.calls.to("GET", "/snapshots") == []
    assert status(world)["lsn"] == "0/1A2B3C4" and status(world).get("createPending") is None
    routes = [(s.method, s.path.split("/")[-1]) for s in world.calls.sent]
    assert routes == [("GET", "branches"), ("POST", "snapshot"), ("GET", "operations"), ("GET", "operations")]


async def test_a_run_without_the_marker_whose_snapshot_exists_adopts_it_on_the_409(world: World) -> None:
    """An earlier run (e.g. an operator version before the marker) POSTed and died: the name is taken."""
    project = world.neon.project()
    apply_checkpoint(world)
    world.neon.lose_answer("POST", "/snapshot$")
    with pytest.raises(kopf.TemporaryError):
        await flow(world).create()
    del world.kube.objects[(CHECKPOINTS, "apps", "v1")]["status"]["createPending"]

    await flow(world).create()

    assert len(project.snapshots) == 1
    assert len(world.calls.to("POST", "/snapshot")) == 2  # the second was refused: 409
    assert status(world)["phase"] == "Ready"
    assert status(world)["snapshotId"] == project.snapshot_named(SNAPSHOT_NAME)["id"]  # type: ignore[index]


async def test_the_branch_id_is_remembered_until_a_finalized_restore_is_recorded(world: World) -> None:
    project = world.neon.project()
    apply_checkpoint(world)
    await flow(world).create()
    await apply_another(world, "v2", "uid-2").create()
    assert len(world.calls.to("GET", "/branches")) == 1, "the second checkpoint knew the branch id"

    # A restore (by this operator or another on the same meta database) gives the branch a new id.
    old = project.branch_named("production")
    assert old is not None
    old["name"] = "production (old)"
    new = project.add_branch("production", default=True)
    await world.runtime.store.upsert_restore(
        RestoreRecord("r-uid", "default", "r1", "p-1", "production", "Finalize", "Succeeded")
    )
    await apply_another(world, "v3", "uid-3").create()

    assert len(world.calls.to("GET", "/branches")) == 2
    assert world.calls.to("POST", "/snapshot")[-1].path == f"/projects/p-1/branches/{new['id']}/snapshot"


async def test_a_404_on_the_post_forgets_the_branch_id_and_posts_to_the_one_looked_up(world: World) -> None:
    project = world.neon.project()
    apply_checkpoint(world)
    await flow(world).create()
    # Restored outside the operator (nothing in the meta DB), and the old branch deleted: the id is gone.
    old = project.branch_named("production")
    assert old is not None
    del project.branches[old["id"]]
    new = project.add_branch("production", default=True)

    await apply_another(world, "v2", "uid-2").create()

    posts = world.calls.to("POST", "/snapshot")
    assert [p.path.split("/")[4] for p in posts] == [old["id"], old["id"], new["id"]]
    assert len(world.calls.to("GET", "/branches")) == 2
    assert world.kube.status_of(CHECKPOINTS, "v2")["phase"] == "Ready"


async def test_a_snapshot_over_the_plans_cap_is_snapshot_limit_reached_and_retried(world: World) -> None:
    project = world.neon.project()
    apply_checkpoint(world)
    message = "snapshot limit reached: the project already has 1 manual snapshots and the plan allows 1"
    world.neon.fail("POST", "/snapshot$", 422, message)

    with pytest.raises(kopf.TemporaryError):
        await flow(world).create()

    assert status(world)["phase"] == "Pending"
    assert (
        ready(world)["reason"] == "SnapshotLimitReached"
        and "maxSnapshotsPerProject" in ready(world)["message"]
    )
    await flow(world).create()  # room was made meanwhile
    assert status(world)["phase"] == "Ready" and len(project.snapshots) == 1


async def test_a_size_in_the_answers_in_hand_reaches_status_and_none_is_asked_for(world: World) -> None:
    """status.size only from what the create fetched anyway: absent after a first run (Neon computes
    sizes later), set by a resumed run whose snapshot listing carries them, with no request of its own."""
    project = world.neon.project()
    world.neon.answer_lsn = True
    apply_checkpoint(world)
    await flow(world).create()
    assert status(world)["phase"] == "Ready" and "size" not in status(world)

    # A run resumed after a lost answer lists the project's snapshots; by then Neon has the sizes.
    world.kube.apply(CHECKPOINTS, "Checkpoint", "v2", {"projectId": "p-1", "branch": "production"}, uid="u-2")
    world.neon.lose_answer("POST", "/snapshot$")
    resumed = CheckpointFlow(world.runtime, world.kube.body_of(CHECKPOINTS, "v2"), LOGGER)
    with pytest.raises(kopf.TemporaryError):
        await resumed.create()
    project.snapshot_named(snapshot_name("u-2")).update(full_size=12_300_000, diff_size=1_200_000)  # type: ignore[union-attr]
    listings = len(world.calls.to("GET", "/snapshots"))
    await CheckpointFlow(world.runtime, world.kube.body_of(CHECKPOINTS, "v2"), LOGGER).create()

    assert len(world.calls.to("GET", "/snapshots")) == listings + 1, "the resume's own lookup, no more"
    assert world.kube.status_of(CHECKPOINTS, "v2")["size"] == {
        "full": 12_300_000,
        "diff": 1_200_000,
        "display": "12.3 MB (+1.2 MB), $0.0011/month",
    }
