"""Pure CheckpointRestore decisions: admission, exactly-once detection after a crash, what to issue, and
phase transitions (tables named after situations, no I/O)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from neon_api.models import Branch, Database, Operation
from neon_checkpoints.core.errors import InvalidSpec
from neon_checkpoints.names import preview_branch_name
from neon_checkpoints.restore.plan import (
    Adoption,
    AdoptRestore,
    CheckpointView,
    Fail,
    Intent,
    IssueRestore,
    Proceed,
    RestoreObserved,
    RestorePhase,
    RestoreStep,
    Wait,
    condition_status,
    duration_seconds,
    kept_old_branch,
    next_phase,
    pick_database,
    pick_production,
    plan_admission,
    plan_adoption,
    plan_restore,
)
from neon_checkpoints.restore.spec import RestoreSpec
from neon_checkpoints.settle.plan import CLOCK_SLACK

T0 = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
SNAP = "snap-v1"
PREVIEW = preview_branch_name("uid-1")


def branch(
    id: str,
    name: str,
    *,
    default: bool = False,
    created: dt.datetime = T0,
    restored_from: str | None = None,
    restored_as: str | None = None,
) -> Branch:
    return Branch(
        id=id,
        project_id="p-1",
        name=name,
        parent_id=None,
        default=default,
        protected=False,
        current_state="ready",
        created_at=created,
        restored_from=restored_from,
        restored_as=restored_as,
    )


PROD = branch("br-prod", "production", default=True)


def view(phase: str | None = "Ready", snapshot_id: str | None = SNAP) -> CheckpointView:
    return CheckpointView("v1", "ckpt-uid", phase, "p-1", "production", snapshot_id, 7)


@pytest.mark.parametrize(
    ("situation", "checkpoint", "expected"),
    [
        ("missing checkpoint", None, Fail("CheckpointNotFound", "Checkpoint ns/v1 not found")),
        ("failed checkpoint", view("Failed"), Fail),
        ("checkpoint being deleted", view("Deleting"), Fail),
        ("checkpoint not yet handled", view(None, None), Wait),
        ("checkpoint still creating", view("Creating", SNAP), Wait),
        ("ready without a snapshot id", view("Ready", None), Wait),
        ("ready", view(), Proceed(view(), SNAP)),
    ],
)
def test_admission(situation: str, checkpoint: CheckpointView | None, expected: object) -> None:
    decided = plan_admission(checkpoint, ref="v1", namespace="ns")
    if isinstance(expected, type):
        assert isinstance(decided, expected), situation
        assert isinstance(decided, Fail | Wait) and "ns/v1" in decided.message
    else:
        assert decided == expected, situation


@pytest.mark.parametrize("now", [None, view("Deleting"), view("Failed"), view("Creating", SNAP)])
def test_a_restore_whose_intent_was_recorded_proceeds_whatever_became_of_the_checkpoint(
    now: CheckpointView | None,
) -> None:
    recorded = view()
    assert plan_admission(now, ref="v1", namespace="ns", begun=recorded) == Proceed(recorded, SNAP)


def test_waiting_names_the_phase() -> None:
    decided = plan_admission(view("Creating"), ref="v1", namespace="ns")
    assert decided == Wait(
        "CheckpointNotReady", "waiting for Checkpoint ns/v1 to become Ready (phase Creating)"
    )


INTENT = Intent(T0, "br-prod")
OURS = branch(
    "br-new", "production", created=T0 + dt.timedelta(seconds=1), restored_from=SNAP, restored_as="br-prod"
)

SKEWED = replace(OURS, created_at=T0 - CLOCK_SLACK)


@pytest.mark.parametrize(
    ("situation", "mode", "observed", "expected"),
    [
        (
            "first attempt, finalize: target is the CURRENT production branch",
            "Finalize",
            RestoreObserved(PROD, (), None),
            IssueRestore(SNAP, "br-prod", True, None),
        ),
        (
            "first attempt, preview: our deterministic branch name",
            "Preview",
            RestoreObserved(PROD, (), None),
            IssueRestore(SNAP, "br-prod", False, PREVIEW),
        ),
        (
            "resumed after the request was accepted: adopt, never ask twice",
            "Finalize",
            RestoreObserved(branch("br-new", "production", default=True), (OURS,), INTENT),
            AdoptRestore(OURS),
        ),
        (
            "resumed; Neon's clock a little behind ours",
            "Finalize",
            RestoreObserved(PROD, (SKEWED,), INTENT),
            AdoptRestore(SKEWED),
        ),
        (
            "intent recorded but the request never reached Neon: ask now",
            "Finalize",
            RestoreObserved(PROD, (), INTENT),
            IssueRestore(SNAP, "br-prod", True, None),
        ),
        (
            "an older restore of the same snapshot is not ours",
            "Finalize",
            RestoreObserved(
                PROD,
                (
                    branch(
                        "br-old-restore",
                        "production (old)",
                        created=T0 - dt.timedelta(minutes=5),
                        restored_from=SNAP,
                        restored_as="br-prod",
                    ),
                ),
                INTENT,
            ),
            IssueRestore(SNAP, "br-prod", True, None),
        ),
        (
            "a restore of the same snapshot onto another branch is not ours",
            "Finalize",
            RestoreObserved(
                PROD,
                (
                    branch(
                        "br-x",
                        "production",
                        created=T0 + dt.timedelta(seconds=1),
                        restored_from=SNAP,
                        restored_as="br-other",
                    ),
                ),
                INTENT,
            ),
            IssueRestore(SNAP, "br-prod", True, None),
        ),
        (
            "someone's preview of the same snapshot after our crash is not our finalize",
            "Finalize",
            RestoreObserved(
                PROD,
                (
                    branch(
                        "br-pv",
                        preview_branch_name("other"),
                        created=T0 + dt.timedelta(seconds=2),
                        restored_from=SNAP,
                        restored_as="br-prod",
                    ),
                ),
                INTENT,
            ),
            IssueRestore(SNAP, "br-prod", True, None),
        ),
        (
            "without recorded intent nothing is adopted (finalize)",
            "Finalize",
            RestoreObserved(PROD, (OURS,), None),
            IssueRestore(SNAP, "br-prod", True, None),
        ),
        (
            "preview resumed: found by its name",
            "Preview",
            RestoreObserved(PROD, (branch("br-pv", PREVIEW, restored_from=SNAP),), INTENT),
            AdoptRestore(branch("br-pv", PREVIEW, restored_from=SNAP)),
        ),
        (
            "no production branch",
            "Finalize",
            RestoreObserved(None, (), None),
            Fail("BranchNotFound", "the Neon project has no branch named 'production' to restore"),
        ),
    ],
)
def test_plan_restore(situation: str, mode: str, observed: RestoreObserved, expected: object) -> None:
    decided = plan_restore(
        mode,  # type: ignore[arg-type]
        observed,
        snapshot_id=SNAP,
        preview_name=PREVIEW,
        branch_label="branch named 'production'",
    )
    assert decided == expected, situation


def test_production_is_resolved_by_exact_name_never_old() -> None:
    branches = [
        branch("br-old", "production (old)"),
        branch("br-new", "production", default=True),
        branch("br-main", "main"),
    ]
    assert pick_production(branches, "production") == branches[1]
    assert pick_production(branches[:1], "production") is None
    assert pick_production(branches, None) == branches[1]


@pytest.mark.parametrize(
    ("current", "step", "expected"),
    [
        (None, RestoreStep.RECEIVED, RestorePhase.PENDING),
        (RestorePhase.PENDING, RestoreStep.WAITING, RestorePhase.PENDING),
        (RestorePhase.PENDING, RestoreStep.QUEUED, RestorePhase.QUEUED),
        (RestorePhase.QUEUED, RestoreStep.REQUESTED, RestorePhase.RESTORING),
        (RestorePhase.RESTORING, RestoreStep.QUEUED, RestorePhase.RESTORING),
        (RestorePhase.RESTORING, RestoreStep.RETRYING, RestorePhase.RESTORING),
        (None, RestoreStep.RETRYING, RestorePhase.PENDING),
        (RestorePhase.RESTORING, RestoreStep.SUCCEEDED, RestorePhase.SUCCEEDED),
        (RestorePhase.RESTORING, RestoreStep.FAILED, RestorePhase.FAILED),
        # One-shot: final phases stay.
        (RestorePhase.SUCCEEDED, RestoreStep.FAILED, RestorePhase.SUCCEEDED),
        (RestorePhase.FAILED, RestoreStep.REQUESTED, RestorePhase.FAILED),
    ],
)
def test_next_phase(current: RestorePhase | None, step: RestoreStep, expected: RestorePhase) -> None:
    assert next_phase(current, step) is expected


def test_condition_is_unknown_until_over() -> None:
    assert [condition_status(p) for p in RestorePhase] == ["Unknown", "Unknown", "Unknown", "True", "False"]


def test_pick_database_prefers_the_apps_database() -> None:
    dbs = [
        Database(5, "br", "postgres", "cloud_admin"),
        Database(9, "br", "app", "app_owner"),
        Database(7, "br", "neondb", "neondb_owner"),
    ]
    assert pick_database(dbs) == dbs[2]
    assert pick_database([]) is None


def test_duration() -> None:
    assert duration_seconds(T0, T0 + dt.timedelta(milliseconds=1234)) == 1.234
    assert duration_seconds(T0, T0 - dt.timedelta(seconds=1)) == 0.0


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"checkpointRef": {"name": "v1"}}, RestoreSpec("v1")),
        (
            {"checkpointRef": {"name": "v2"}, "mode": "Preview", "previewSecretName": "s"},
            RestoreSpec("v2", "Preview", "s"),
        ),
        (
            {"checkpointRef": {"name": "v1"}, "oldBranchPolicy": "Delete"},
            RestoreSpec("v1", old_branch_policy="Delete"),
        ),
    ],
)
def test_spec_parsing(spec: dict[str, object], expected: RestoreSpec) -> None:
    assert RestoreSpec.from_dict(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"checkpointRef": {}},
        {"checkpointRef": {"name": "v1"}, "mode": "Rewind"},
        {"checkpointRef": {"name": "v1"}, "oldBranchPolicy": "Keep"},
        {"checkpointRef": {"name": "v1"}, "previewSecretName": "s"},
    ],
)
def test_bad_specs(spec: dict[str, object]) -> None:
    with pytest.raises(InvalidSpec):
        RestoreSpec.from_dict(spec)


def test_preview_secret_defaults_to_the_restore_name() -> None:
    assert RestoreSpec("v2", "Preview").secret_name("look") == "look-preview"


# -- adopting an earlier attempt's restore, and the old branch on oldBranchPolicy Delete -------------------


def op(id: str, status: str) -> Operation:
    return Operation(
        id=id,
        project_id="p-1",
        branch_id="br-new",
        endpoint_id=None,
        action="create_branch",
        status=status,
        error=None,
        failures_count=0,
        created_at=T0,
        updated_at=T0,
    )


ADOPTED = branch(
    "br-new", "production", created=T0 + dt.timedelta(seconds=2), restored_from=SNAP, restored_as="br-prod"
)
INTENT = Intent(T0, "br-prod")
RUNNING, FINISHED = op("op-run", "running"), op("op-done", "finished")


@pytest.mark.parametrize(
    ("situation", "listed", "recorded", "expected"),
    [
        ("nothing recorded: the project's unfinished operations", [RUNNING, FINISHED], [], (RUNNING,)),
        ("recorded ids are waited for even once finished", [FINISHED], ["op-done"], ("op-done",)),
        ("recorded and still running: once", [RUNNING], ["op-run", "op-gone"], (RUNNING, "op-gone")),
        ("empty recorded ids are skipped", [], ["", "op-gone"], ("op-gone",)),
        ("nothing at all", [FINISHED], [], ()),
    ],
)
def test_operations_to_wait_for_when_adopting_a_restore(
    situation: str, listed: list[Operation], recorded: list[str], expected: tuple[object, ...]
) -> None:
    adoption = plan_adoption(ADOPTED, intent=INTENT, project_operations=listed, recorded=recorded)
    assert adoption == Adoption(expected, INTENT)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("situation", "adopted", "intent", "expected"),
    [
        ("intent recorded: kept", ADOPTED, INTENT, INTENT),
        (
            "a Preview found by name whose intent never reached the meta DB: from its branch",
            replace(ADOPTED, name=PREVIEW, restored_as="br-prod"),
            None,
            Intent(T0 + dt.timedelta(seconds=2), "br-prod"),
        ),
        (
            "and Neon did not say what it restored",
            replace(ADOPTED, name=PREVIEW, restored_as=None),
            None,
            Intent(T0 + dt.timedelta(seconds=2), ""),
        ),
    ],
)
def test_the_intent_of_an_adopted_restore(
    situation: str, adopted: Branch, intent: Intent | None, expected: Intent
) -> None:
    assert plan_adoption(adopted, intent=intent, project_operations=(), recorded=()).intent == expected


@pytest.mark.parametrize(
    ("situation", "status", "kept"),
    [
        ("bad request", 400, True),
        ("key lacks permission", 403, True),
        ("branch has children", 409, True),
        ("precondition failed", 412, True),
        ("unprocessable", 422, True),
        ("locked by a running operation: retry", 423, False),
        ("rate limited: retry", 429, False),
        ("server error: retry", 500, False),
        ("unavailable: retry", 503, False),
    ],
)
def test_which_refusals_keep_the_old_branch(situation: str, status: int, kept: bool) -> None:
    note = kept_old_branch(status, "branch has children")
    if kept:
        assert (
            note
            == f"; the replaced branch was kept: Neon refused to delete it ({status}: branch has children)"
        )
    else:
        assert note is None
