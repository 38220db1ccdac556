"""The CheckpointRestore flows (Finalize, Preview, and the Preview's cleanup), run without kopf on a fake
cluster and a fake Neon (tests/unit/flowkit) with the real meta store: admission, every resume branch, and
what each leaves in status, in the meta DB and in Neon."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import httpx
import kopf
import psycopg
import pytest

from neon_checkpoints.checkpoint.flow import CheckpointFlow
from neon_checkpoints.core.times import utcnow
from neon_checkpoints.names import CHECKPOINT_RESTORES, CHECKPOINTS, preview_branch_name
from neon_checkpoints.restore.flow import RestoreFlow
from neon_checkpoints.restore.spec import RestoreSpec
from tests.unit.flowkit import DEFAULT_KEY, FakeProject, World, raw_object
from tests.unit.flowkit.neon import stamp

pytestmark = pytest.mark.postgres

CHECKPOINT_UID = "ckpt-uid-1"
UID = "restore-uid-1"
PREVIEW = preview_branch_name(UID)
TENANT_KEY = "napi_tenant_a_key"
LOGGER = logging.getLogger("tests.restore.flow")


async def ready_checkpoint(
    world: World, *, keys: tuple[str, ...] = (DEFAULT_KEY,), **spec: Any
) -> FakeProject:
    """A Checkpoint `v1` of p-1's production branch, made Ready by the real Checkpoint flow."""
    project = world.neon.project(keys=keys)
    world.kube.apply(
        CHECKPOINTS,
        "Checkpoint",
        "v1",
        {"projectId": "p-1", "branch": "production", **spec},
        uid=CHECKPOINT_UID,
    )
    await CheckpointFlow(world.runtime, world.kube.body_of(CHECKPOINTS, "v1"), LOGGER).create()
    assert world.kube.status_of(CHECKPOINTS, "v1")["phase"] == "Ready"
    return project


def production_moved_on(project: FakeProject) -> dict[str, Any]:
    """Since the checkpoint, a finalized restore gave production a new id (and left decoys)."""
    source = project.branch_named("production")
    assert source is not None
    source.update(name="production (old)", default=False)
    current = project.add_branch("production", default=True, restored_as=source["id"])
    project.add_branch("production-copy")
    return current


def apply_restore(world: World, **spec: Any) -> None:
    world.kube.apply(
        CHECKPOINT_RESTORES,
        "CheckpointRestore",
        "back-to-v1",
        {"checkpointRef": {"name": "v1"}, **spec},
        uid=UID,
    )


def flow(world: World) -> RestoreFlow:
    """The flow as the next handler run builds it: on the stored object, with its status so far."""
    return RestoreFlow(world.runtime, world.kube.body_of(CHECKPOINT_RESTORES, "back-to-v1"), LOGGER)


def status(world: World) -> dict[str, Any]:
    return world.kube.status_of(CHECKPOINT_RESTORES, "back-to-v1")


def succeeded(world: World) -> dict[str, Any]:
    return world.kube.condition(CHECKPOINT_RESTORES, "back-to-v1", "Succeeded")


def snapshot_id(world: World) -> str:
    return str(world.kube.status_of(CHECKPOINTS, "v1")["snapshotId"])


def restore_posts(world: World) -> list[Any]:
    return world.calls.to("POST", "/restore")


# -- admission -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("situation", "checkpoint_phase", "outcome", "reason"),
    [
        ("checkpoint missing", None, kopf.PermanentError, "CheckpointNotFound"),
        ("checkpoint failed", "Failed", kopf.PermanentError, "CheckpointFailed"),
        ("checkpoint being deleted", "Deleting", kopf.PermanentError, "CheckpointDeleting"),
        ("checkpoint still creating", "Creating", kopf.TemporaryError, "CheckpointNotReady"),
        ("checkpoint not handled yet", "", kopf.TemporaryError, "CheckpointNotReady"),
    ],
)
async def test_admission(
    world: World, situation: str, checkpoint_phase: str | None, outcome: type[Exception], reason: str
) -> None:
    world.neon.project()
    if checkpoint_phase is not None:
        state = {"phase": checkpoint_phase} if checkpoint_phase else None
        world.kube.put(
            CHECKPOINTS,
            raw_object("Checkpoint", "v1", {"projectId": "p-1"}, uid=CHECKPOINT_UID, status=state),
        )
    apply_restore(world)

    with pytest.raises(outcome):
        await flow(world).create()

    assert succeeded(world)["reason"] == reason
    assert status(world)["phase"] == ("Failed" if outcome is kopf.PermanentError else "Pending")
    assert world.calls.sent == []
    assert await world.runtime.store.get_restore(UID) is None


# -- Finalize --------------------------------------------------------------------------------------------


async def test_fresh_finalize_records_its_intent_then_restores_onto_production_as_named_now(
    world: World, fresh_database: str
) -> None:
    project = await ready_checkpoint(world)
    production = production_moved_on(project)
    apply_restore(world)
    at_post: list[tuple[Any, ...] | None] = []

    def meta_row_at_post(request: httpx.Request) -> None:
        with psycopg.connect(fresh_database) as conn:
            found = conn.execute(
                "SELECT phase, started_at, target_branch_id, checkpoint_id FROM restores WHERE uid = %s",
                (UID,),
            ).fetchone()
        at_post.append(found)

    world.neon.watch("POST", "/restore$", meta_row_at_post)
    checkpoint_row = await world.runtime.store.get_checkpoint(CHECKPOINT_UID)
    assert checkpoint_row is not None

    await flow(world).create()

    [post] = restore_posts(world)
    assert post.path == f"/projects/p-1/snapshots/{snapshot_id(world)}/restore"
    assert post.body == {"target_branch_id": production["id"], "finalize_restore": True}
    # Production was resolved by name right before the request.
    before = world.calls.sent[world.calls.sent.index(post) - 1]
    assert (before.method, before.path) == ("GET", "/projects/p-1/branches")
    # The intent reached the meta DB and status before the request.
    [(phase, started_at, target, checkpoint_id)] = at_post  # type: ignore[misc]
    assert (phase, target, checkpoint_id) == ("Restoring", production["id"], checkpoint_row.id)
    assert started_at is not None
    written: dict[str, Any] = {}
    for _, _, fields in world.kube.patches[: post.patches_before]:
        written.update(fields)
    assert written["phase"] == "Restoring" and written["targetBranchId"] == production["id"]
    assert "startedAt" in written

    restored = project.branch_named("production")
    assert restored is not None and restored["id"] != production["id"]
    assert restored["current_state"] == "ready"  # its operations were waited for
    final = status(world)
    assert final["phase"] == "Succeeded"
    assert (succeeded(world)["status"], succeeded(world)["reason"]) == ("True", "Restored")
    assert final["restoredBranchId"] == restored["id"] and final["replacedBranchId"] == production["id"]
    assert final["durationSeconds"] >= 0 and "completedAt" in final
    row = await world.runtime.store.get_restore(UID)
    assert row is not None
    assert (row.phase, row.restored_branch_id, row.replaced_branch_id) == (
        "Succeeded",
        restored["id"],
        production["id"],
    )
    assert row.completed_at is not None and row.checkpoint_id == checkpoint_row.id
    assert project.branch(production["id"])["name"] == "production (old)"  # oldBranchPolicy Retain
    restore_events = [(e.type, e.reason) for e in world.kube.events[3:]]
    assert restore_events == [("Normal", "Pending"), ("Normal", "Restoring"), ("Normal", "Succeeded")]


async def test_resumed_after_the_request_was_accepted_adopts_that_restore(world: World) -> None:
    project = await ready_checkpoint(world)
    production = project.branch_named("production")
    assert production is not None
    apply_restore(world)
    world.neon.lose_answer("POST", "/restore$")  # Neon restored; the operator never heard back
    with pytest.raises(kopf.TemporaryError):
        await flow(world).create()
    assert status(world)["phase"] == "Restoring"

    await flow(world).create()

    assert len(restore_posts(world)) == 1, "the restore was not requested twice"
    restored = project.branch_named("production")
    assert restored is not None and restored["restored_as"] == production["id"]
    assert project.in_progress() == []  # the adopted restore's operations were waited for
    final = status(world)
    assert final["phase"] == "Succeeded"
    assert final["restoredBranchId"] == restored["id"] and final["replacedBranchId"] == production["id"]
    row = await world.runtime.store.get_restore(UID)
    assert row is not None and row.phase == "Succeeded" and row.restored_branch_id == restored["id"]


async def test_resumed_when_the_meta_row_says_succeeded_restores_status_from_it(world: World) -> None:
    await ready_checkpoint(world)
    apply_restore(world)
    await flow(world).create()
    row = await world.runtime.store.get_restore(UID)
    assert row is not None and row.phase == "Succeeded"
    # The operator died after the meta row, before the status said so.
    world.kube.objects[(CHECKPOINT_RESTORES, "apps", "back-to-v1")]["status"] = {"phase": "Restoring"}
    sent_before = len(world.calls.sent)

    await flow(world).create()

    assert world.calls.sent[sent_before:] == [], "no Neon call"
    final = status(world)
    assert final["phase"] == "Succeeded"
    assert final["restoredBranchId"] == row.restored_branch_id
    assert final["replacedBranchId"] == row.replaced_branch_id


async def test_a_checkpoint_deleted_after_the_intent_is_finished_from_the_meta_rows_with_its_key(
    world: World,
) -> None:
    world.kube.secrets[("apps", "tenant-neon-api")] = {"apiKey": TENANT_KEY}
    project = await ready_checkpoint(
        world, keys=(TENANT_KEY,), credentialsSecretRef={"name": "tenant-neon-api"}, deletionPolicy="Retain"
    )
    apply_restore(world)
    world.neon.lose_answer("POST", "/restore$")
    with pytest.raises(kopf.TemporaryError):
        await flow(world).create()
    # The Checkpoint goes away while the restore is under way.
    await CheckpointFlow(world.runtime, world.kube.body_of(CHECKPOINTS, "v1"), LOGGER).delete()
    await world.kube.delete(CHECKPOINTS, "apps", "v1")

    await flow(world).create()

    assert status(world)["phase"] == "Succeeded"
    assert len(restore_posts(world)) == 1
    assert world.calls.api_keys() == {TENANT_KEY}, "the checkpoint's key, from its meta row"
    restored = project.branch_named("production")
    assert restored is not None and status(world)["restoredBranchId"] == restored["id"]


async def test_a_snapshot_gone_from_neon_fails_the_restore(world: World) -> None:
    await ready_checkpoint(world)
    apply_restore(world)
    world.neon.fail("POST", "/restore$", 404, "snapshot not found")

    with pytest.raises(kopf.PermanentError):
        await flow(world).create()

    assert status(world)["phase"] == "Failed"
    assert (succeeded(world)["status"], succeeded(world)["reason"]) == ("False", "SnapshotNotFound")
    assert "snapshot not found (404)" in succeeded(world)["message"]
    row = await world.runtime.store.get_restore(UID)
    assert row is not None and row.phase == "Failed" and row.error is not None and "404" in row.error
    assert row.started_at is not None  # the intent stays recorded


async def test_old_branch_policy_delete_deletes_the_replaced_branch(world: World) -> None:
    project = await ready_checkpoint(world)
    production = project.branch_named("production")
    assert production is not None
    apply_restore(world, oldBranchPolicy="Delete")

    await flow(world).create()

    assert status(world)["phase"] == "Succeeded"
    assert production["id"] not in project.branches
    assert succeeded(world)["message"].endswith("the replaced branch was deleted")


@pytest.mark.parametrize("refusal", [400, 403, 409, 422])
async def test_a_refused_delete_of_the_replaced_branch_keeps_it_and_says_so(
    world: World, refusal: int
) -> None:
    project = await ready_checkpoint(world)
    production = project.branch_named("production")
    assert production is not None
    apply_restore(world, oldBranchPolicy="Delete")
    world.neon.fail("DELETE", "/branches/", refusal, "branch has children")

    await flow(world).create()

    assert status(world)["phase"] == "Succeeded"
    assert production["id"] in project.branches
    assert (
        f"the replaced branch was kept: Neon refused to delete it ({refusal}: branch has children)"
        in (succeeded(world)["message"])
    )


async def test_a_passing_failure_deleting_the_replaced_branch_is_retried_and_the_restore_adopted(
    world: World,
) -> None:
    project = await ready_checkpoint(world)
    production = project.branch_named("production")
    assert production is not None
    apply_restore(world, oldBranchPolicy="Delete")
    world.neon.fail("DELETE", "/branches/", 423)

    with pytest.raises(kopf.TemporaryError):
        await flow(world).create()
    assert status(world)["phase"] == "Restoring" and production["id"] in project.branches

    await flow(world).create()

    assert status(world)["phase"] == "Succeeded"
    assert len(restore_posts(world)) == 1
    assert production["id"] not in project.branches


# -- Preview ---------------------------------------------------------------------------------------------


async def test_fresh_preview_makes_a_branch_under_its_name_and_a_secret_owned_by_the_restore(
    world: World,
) -> None:
    project = await ready_checkpoint(world)
    production = project.branch_named("production")
    assert production is not None
    apply_restore(world, mode="Preview")

    await flow(world).create()

    [post] = restore_posts(world)
    assert post.body == {"name": PREVIEW, "target_branch_id": production["id"], "finalize_restore": False}
    preview = project.branch_named(PREVIEW)
    assert preview is not None
    assert project.branch_named("production") is production, "production is untouched"
    final = status(world)
    assert final["phase"] == "Succeeded"
    assert final["restoredBranchId"] == preview["id"] and "replacedBranchId" not in final
    assert final["previewSecretName"] == "back-to-v1-preview"
    data = world.kube.secrets[("apps", "back-to-v1-preview")]
    assert data["branchId"] == preview["id"]
    assert data["uri"] == f"postgresql://app_owner:pw@ep-{preview['id']}.fake.neon.test/appdb?sslmode=require"
    owner = world.kube.secret_owner_refs[("apps", "back-to-v1-preview")]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "CheckpointRestore",
        "back-to-v1",
        UID,
        True,
    )
    row = await world.runtime.store.get_restore(UID)
    assert row is not None and row.mode == "Preview" and row.restored_branch_id == preview["id"]


async def test_a_resumed_preview_finds_its_branch_by_name(world: World) -> None:
    project = await ready_checkpoint(world)
    apply_restore(world, mode="Preview", previewSecretName="v1-preview-uri")
    world.neon.lose_answer("POST", "/restore$")
    with pytest.raises(kopf.TemporaryError):
        await flow(world).create()

    await flow(world).create()

    assert len(restore_posts(world)) == 1
    preview = project.branch_named(PREVIEW)
    assert preview is not None and status(world)["restoredBranchId"] == preview["id"]
    assert world.kube.secrets[("apps", "v1-preview-uri")]["branchId"] == preview["id"]


async def test_a_preview_whose_intent_never_reached_the_meta_db_is_adopted_from_its_branch(
    world: World,
) -> None:
    project = await ready_checkpoint(world)
    production = project.branch_named("production")
    assert production is not None
    made = utcnow() - dt.timedelta(seconds=30)
    preview = project.add_branch(
        PREVIEW, restored_from=snapshot_id(world), restored_as=production["id"], created_at=stamp(made)
    )
    apply_restore(world, mode="Preview")
    assert await world.runtime.store.get_restore(UID) is None

    await flow(world).create()

    assert restore_posts(world) == []
    final = status(world)
    assert final["phase"] == "Succeeded" and final["restoredBranchId"] == preview["id"]
    assert final["durationSeconds"] >= 30, "timed from the branch's creation"


async def test_deleting_a_preview_deletes_its_branch_and_secret(world: World) -> None:
    project = await ready_checkpoint(world)
    apply_restore(world, mode="Preview")
    await flow(world).create()
    preview = project.branch_named(PREVIEW)
    assert preview is not None

    await flow(world).delete()

    assert [s.path for s in world.calls.to("DELETE", preview["id"])] == [
        f"/projects/p-1/branches/{preview['id']}"
    ]
    assert project.branch_named(PREVIEW) is None
    assert ("apps", "back-to-v1-preview") not in world.kube.secrets


# -- the Preview's Secret is its own ---------------------------------------------------------------------


async def test_a_preview_naming_another_secret_fails_before_neon_and_leaves_it_untouched(
    world: World,
) -> None:
    await ready_checkpoint(world)
    world.kube.secrets[("apps", "victim")] = {"password": "hunter2"}
    apply_restore(world, mode="Preview", previewSecretName="victim")

    with pytest.raises(kopf.PermanentError):
        await flow(world).create()

    assert (status(world)["phase"], succeeded(world)["reason"]) == ("Failed", "SecretNameTaken")
    assert "apps/victim" in status(world)["message"]
    assert restore_posts(world) == [], "nothing was asked of Neon"
    assert world.kube.secrets[("apps", "victim")] == {"password": "hunter2"}
    assert ("apps", "victim") not in world.kube.secret_owner_refs

    await flow(world).delete()
    assert world.kube.secrets[("apps", "victim")] == {"password": "hunter2"}, "deleting it deletes no Secret"


async def test_a_secret_taken_after_the_check_is_never_overwritten(world: World) -> None:
    project = await ready_checkpoint(world)
    apply_restore(world, mode="Preview")
    # Someone creates the Secret between the admission check and the write.
    world.neon.watch(
        "POST", "/restore$", lambda _: world.kube.secrets.update({("apps", "back-to-v1-preview"): {}})
    )

    with pytest.raises(kopf.PermanentError):
        await flow(world).create()
    assert succeeded(world)["reason"] == "SecretNameTaken"
    assert world.kube.secrets[("apps", "back-to-v1-preview")] == {}
    assert ("apps", "back-to-v1-preview") not in world.kube.secret_owner_refs
    # The preview branch was made; deleting the restore removes it (and no Secret).
    assert project.branch_named(PREVIEW) is not None
    await flow(world).delete()
    assert project.branch_named(PREVIEW) is None
    assert world.kube.secrets[("apps", "back-to-v1-preview")] == {}


def test_the_default_secret_name_fits_kubernetes_for_any_restore_name() -> None:
    spec = RestoreSpec.from_dict({"checkpointRef": {"name": "v1"}, "mode": "Preview"})
    assert spec.secret_name("back-to-v1") == "back-to-v1-preview"
    long_a, long_b = "a" * 250, "a" * 249 + "b"
    names = {spec.secret_name(long_a), spec.secret_name(long_b)}
    assert len(names) == 2, "names cut to fit stay distinct"
    for name in names:
        assert len(name) <= 253 and name.endswith("-preview")
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name)
