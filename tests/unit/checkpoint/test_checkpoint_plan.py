"""Pure Checkpoint decisions: what to do given the spec and what Neon reports, and phase transitions."""

from __future__ import annotations

import datetime as dt

import pytest

from neon_api.models import Branch, Operation, Snapshot
from neon_checkpoints.checkpoint.plan import (
    AdoptSnapshot,
    ChangeExpiry,
    Fail,
    Observed,
    Phase,
    Step,
    TakeSnapshot,
    adopted_snapshot_operations,
    needs_snapshot_listing,
    next_phase,
    pick_default_branch,
    plan_create,
    plan_expiry_change,
    ready_condition_status,
    snapshot_may_exist,
)
from neon_checkpoints.checkpoint.spec import CheckpointSpec
from neon_checkpoints.core.errors import InvalidSpec
from neon_checkpoints.names import snapshot_name

T0 = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)


def branch(name: str, *, id: str = "br-1", default: bool = False) -> Branch:
    return Branch(
        id=id,
        project_id="p-1",
        name=name,
        parent_id=None,
        default=default,
        protected=False,
        current_state="ready",
        created_at=T0,
    )


SNAPSHOT = Snapshot(id="snap-1", name="ckpt-uid", source_branch_id="br-1", created_at=T0)


@pytest.mark.parametrize(
    ("situation", "spec", "observed", "expected"),
    [
        (
            "first attempt",
            CheckpointSpec("p-1", "production"),
            Observed(branch("production"), None),
            TakeSnapshot("br-1", "ckpt-uid", None),
        ),
        (
            "ttl counts from the resource's creation",
            CheckpointSpec("p-1", "production", ttl=dt.timedelta(hours=2)),
            Observed(branch("production"), None),
            TakeSnapshot("br-1", "ckpt-uid", T0 + dt.timedelta(hours=2)),
        ),
        (
            "explicit expiry",
            CheckpointSpec("p-1", expires_at=T0 + dt.timedelta(days=1)),
            Observed(branch("main", default=True), None),
            TakeSnapshot("br-1", "ckpt-uid", T0 + dt.timedelta(days=1)),
        ),
        (
            "resumed after a crash: the snapshot under our name exists",
            CheckpointSpec("p-1", "production"),
            Observed(branch("production"), SNAPSHOT),
            AdoptSnapshot(SNAPSHOT),
        ),
        (
            "snapshot exists even though the branch was renamed since",
            CheckpointSpec("p-1", "production"),
            Observed(None, SNAPSHOT),
            AdoptSnapshot(SNAPSHOT),
        ),
        (
            "named branch missing",
            CheckpointSpec("p-1", "prod"),
            Observed(None, None),
            Fail("BranchNotFound", "Neon project p-1 has no branch named 'prod'"),
        ),
        (
            "no default branch",
            CheckpointSpec("p-1"),
            Observed(None, None),
            Fail("BranchNotFound", "Neon project p-1 has no default branch"),
        ),
    ],
)
def test_plan_create(situation: str, spec: CheckpointSpec, observed: Observed, expected: object) -> None:
    assert plan_create(spec, observed, snapshot_name="ckpt-uid", created_at=T0) == expected, situation


def test_expiry_before_creation_fails() -> None:
    spec = CheckpointSpec("p-1", expires_at=T0 - dt.timedelta(minutes=1))
    action = plan_create(spec, Observed(branch("main"), None), snapshot_name="n", created_at=T0)
    assert isinstance(action, Fail) and action.reason == "InvalidExpiry"


def test_default_branch_is_the_one_marked_default() -> None:
    branches = [branch("main (old)", id="br-0"), branch("main", id="br-2", default=True)]
    assert pick_default_branch(branches) == branches[1]
    assert pick_default_branch([branch("dev")]) is None


def test_snapshot_name_is_a_function_of_the_uid_alone() -> None:
    uid = "0b6f1c1e-6a47-4f3c-9b7e-2d1e5b0c9a11"
    assert snapshot_name(uid) == snapshot_name(uid) == f"ckpt-{uid}"
    assert snapshot_name(uid) != snapshot_name(uid.replace("0", "1"))


@pytest.mark.parametrize(
    ("current", "step", "expected"),
    [
        (None, Step.RECEIVED, Phase.PENDING),
        (None, Step.QUEUED, Phase.QUEUED),
        (Phase.PENDING, Step.QUEUED, Phase.QUEUED),
        (Phase.QUEUED, Step.SNAPSHOT_ACCEPTED, Phase.CREATING),
        (Phase.PENDING, Step.SNAPSHOT_ACCEPTED, Phase.CREATING),
        (Phase.CREATING, Step.SNAPSHOT_ACCEPTED, Phase.CREATING),  # resumed after a crash
        (Phase.CREATING, Step.OPERATIONS_FINISHED, Phase.READY),
        (Phase.CREATING, Step.RETRYING, Phase.CREATING),  # a 423 while waiting keeps the progress shown
        (None, Step.RETRYING, Phase.PENDING),
        (Phase.PENDING, Step.FAILED, Phase.FAILED),
        (Phase.CREATING, Step.FAILED, Phase.FAILED),
        (Phase.READY, Step.FAILED, Phase.READY),  # a usable checkpoint is never demoted
        (Phase.READY, Step.SPEC_CHANGED, Phase.READY),
        (Phase.FAILED, Step.SNAPSHOT_ACCEPTED, Phase.FAILED),
        (Phase.READY, Step.DELETE_REQUESTED, Phase.DELETING),
        (Phase.FAILED, Step.DELETE_REQUESTED, Phase.DELETING),
        (Phase.DELETING, Step.RETRYING, Phase.DELETING),
    ],
)
def test_next_phase(current: Phase | None, step: Step, expected: Phase) -> None:
    assert next_phase(current, step) is expected


@pytest.mark.parametrize(
    ("phase", "status"), [(Phase.READY, "True")] + [(p, "False") for p in Phase if p is not Phase.READY]
)
def test_ready_condition_follows_the_phase(phase: Phase, status: str) -> None:
    assert ready_condition_status(phase) == status


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90m", dt.timedelta(minutes=90)), ("1d12h", dt.timedelta(hours=36)), ("45s", dt.timedelta(seconds=45))],
)
def test_ttl(text: str, expected: dt.timedelta) -> None:
    assert CheckpointSpec.from_dict({"projectId": "p", "ttl": text}).ttl == expected


@pytest.mark.parametrize("text", ["1w", "h", "10", "1h 2m", "0s", "999999999999d"])
def test_bad_ttl(text: str) -> None:
    with pytest.raises(InvalidSpec, match=r"spec\.ttl"):
        CheckpointSpec.from_dict({"projectId": "p", "ttl": text})


def test_spec_from_the_resource() -> None:
    spec = CheckpointSpec.from_dict(
        {
            "projectId": "p-1",
            "branch": "production",
            "source": {"commit": "3f2c9e1", "prompt": "add tags column"},
            "ttl": "24h",
            "deletionPolicy": "Retain",
            "credentialsSecretRef": {"name": "neon"},
        }
    )
    assert spec.project_id == "p-1" and spec.branch == "production"
    assert spec.source == {"commit": "3f2c9e1", "prompt": "add tags column"}
    assert spec.expiry(T0) == T0 + dt.timedelta(hours=24)
    assert spec.deletion_policy == "Retain"
    assert spec.credentials is not None and (spec.credentials.name, spec.credentials.key) == (
        "neon",
        "apiKey",
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [({}, "spec.projectId"), ({"projectId": "p", "deletionPolicy": "Keep"}, "spec.deletionPolicy")],
)
def test_invalid_spec(spec: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        CheckpointSpec.from_dict(spec)


def expiry_after_edit(spec: dict[str, object], recorded: dt.datetime | None, **kw: object) -> object:
    args: dict[str, object] = dict(
        phase=Phase.READY,
        snapshot_id="snap-1",
        created_at=T0,
        recorded=recorded,
        now=T0 + dt.timedelta(minutes=5),
    )
    args.update(kw)
    return plan_expiry_change(CheckpointSpec.from_dict({"projectId": "p-1", **spec}), **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "recorded", "expected"),
    [
        ({"ttl": "2h"}, T0 + dt.timedelta(hours=1), ChangeExpiry(T0 + dt.timedelta(hours=2))),
        ({}, T0 + dt.timedelta(hours=1), ChangeExpiry(None)),  # ttl removed: no longer expires
        ({"ttl": "1h"}, None, ChangeExpiry(T0 + dt.timedelta(hours=1))),  # ttl added
        ({"expiresAt": "2026-12-01T00:00:00.700Z"}, dt.datetime(2026, 12, 1, tzinfo=dt.UTC), None),  # whole s
        ({"ttl": "1h"}, T0 + dt.timedelta(hours=1), None),  # unchanged (e.g. deletionPolicy edited)
        ({}, None, None),
        ({"ttl": "1m"}, T0 + dt.timedelta(hours=1), None),  # already past: the expiry handler deletes it
    ],
)
def test_an_expiry_edit_moves_the_snapshot_expiry_only_when_it_changes_and_lies_ahead(
    spec: dict[str, object], recorded: dt.datetime | None, expected: ChangeExpiry | None
) -> None:
    assert expiry_after_edit(spec, recorded) == expected


@pytest.mark.parametrize(
    ("phase", "snapshot_id"), [(Phase.CREATING, "snap-1"), (Phase.READY, None), (None, None)]
)
def test_only_a_ready_checkpoint_has_an_expiry_to_move(phase: Phase | None, snapshot_id: str | None) -> None:
    assert expiry_after_edit({"ttl": "2h"}, None, phase=phase, snapshot_id=snapshot_id) is None


def op(id: str, status: str, *, at: dt.timedelta = dt.timedelta(0)) -> Operation:
    return Operation(
        id=id,
        project_id="p-1",
        branch_id="br-1",
        endpoint_id=None,
        action="create_branch",
        status=status,
        error=None,
        failures_count=0,
        created_at=T0 + at,
        updated_at=T0 + at,
    )


SECOND = dt.timedelta(seconds=1)


@pytest.mark.parametrize(
    ("situation", "recorded", "listed", "expected"),
    [
        (
            "operations recorded: those, whatever else the project runs",
            [{"id": "op-1", "action": "create_branch", "status": "running"}],
            [op("op-9", "running", at=SECOND)],
            ["op-1"],
        ),
        (
            "none recorded: the project's unfinished operations since the snapshot",
            [],
            [
                op("op-after", "running", at=SECOND),
                op("op-same-moment", "scheduling"),
                op("op-cancelling", "cancelling", at=SECOND),
                op("op-done", "finished", at=SECOND),
                op("op-failed-hard", "error", at=SECOND),
                op("op-before", "running", at=-SECOND),
            ],
            ["op-after", "op-same-moment", "op-cancelling"],
        ),
        ("none recorded, nothing running", [], [op("op-done", "finished", at=SECOND)], []),
    ],
)
def test_operations_to_wait_for_when_adopting_a_snapshot(
    situation: str, recorded: list[dict[str, str]], listed: list[Operation], expected: list[str]
) -> None:
    entries = adopted_snapshot_operations(SNAPSHOT, recorded, listed)
    assert [entry["id"] for entry in entries] == expected
    assert all(set(entry) == {"id", "action", "status"} for entry in entries)


@pytest.mark.parametrize(
    ("status", "may_exist"),
    [
        ({}, False),  # a first run: nothing was ever sent
        ({"phase": "Queued"}, False),  # an earlier run waited for the project and never reached the POST
        ({"phase": "Pending", "createPending": True}, True),  # an earlier run may have sent it
        ({"phase": "Creating", "snapshotId": "snap-1"}, True),
        ({"phase": "Ready", "createPending": None, "snapshotId": "snap-1"}, True),
    ],
)
def test_the_snapshot_is_looked_up_only_when_an_earlier_run_may_have_asked_for_it(
    status: dict[str, object], may_exist: bool
) -> None:
    assert snapshot_may_exist(status) is may_exist


def test_the_listing_after_the_wait_is_needed_only_without_an_lsn() -> None:
    assert needs_snapshot_listing(SNAPSHOT)
    assert not needs_snapshot_listing(Snapshot("snap-1", "n", "br-1", T0, lsn="0/1"))
