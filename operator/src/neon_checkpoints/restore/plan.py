"""What to do next for a CheckpointRestore, decided from its spec, its Checkpoint and what Neon reports
(pure, no I/O). The flow (flow.py) observes, calls these, and executes the answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from neon_api.models import Branch, Database, Operation
from neon_checkpoints.core.verdicts import is_refusal_status
from neon_checkpoints.restore.spec import Mode
from neon_checkpoints.settle.plan import Intent, find_earlier_restore


class RestorePhase(StrEnum):
    PENDING = "Pending"
    QUEUED = "Queued"
    RESTORING = "Restoring"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class RestoreStep(StrEnum):
    """What just happened to a CheckpointRestore."""

    RECEIVED = "received"
    WAITING = "waiting"  # for the Checkpoint to become Ready
    QUEUED = "queued"  # for another flow on the same Neon project
    REQUESTED = "requested"  # intent recorded; the restore is being (or was) requested
    SUCCEEDED = "succeeded"
    RETRYING = "retrying"
    FAILED = "failed"


_FINAL = (RestorePhase.SUCCEEDED, RestorePhase.FAILED)
_STEP_PHASE = {
    RestoreStep.RECEIVED: RestorePhase.PENDING,
    RestoreStep.WAITING: RestorePhase.PENDING,
    RestoreStep.QUEUED: RestorePhase.QUEUED,
    RestoreStep.REQUESTED: RestorePhase.RESTORING,
    RestoreStep.SUCCEEDED: RestorePhase.SUCCEEDED,
    RestoreStep.FAILED: RestorePhase.FAILED,
}


def next_phase(current: RestorePhase | None, step: RestoreStep) -> RestorePhase:
    """The phase after `step`. A restore is one-shot: Succeeded and Failed are final. A retry keeps the
    phase it happened in (a Restoring restore that hits a 423 is still Restoring)."""
    if current in _FINAL:
        return current
    if step is RestoreStep.RETRYING:
        return current if current is not None else RestorePhase.PENDING
    if step is RestoreStep.QUEUED and current is RestorePhase.RESTORING:
        return current  # resumed after a crash: the restore is already under way
    return _STEP_PHASE[step]


def condition_status(phase: RestorePhase) -> str:
    """Status of the `Succeeded` condition: unknown until the one-shot request is over."""
    if phase is RestorePhase.SUCCEEDED:
        return "True"
    if phase is RestorePhase.FAILED:
        return "False"
    return "Unknown"


# -- admission: is the Checkpoint usable? ----------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointView:
    """What a restore needs from the Checkpoint it names (read from the resource)."""

    name: str
    uid: str
    phase: str | None
    project_id: str
    # Branch NAME the checkpoint was taken from; None: the project's default branch.
    branch: str | None
    snapshot_id: str | None
    checkpoint_id: int | None


@dataclass(frozen=True)
class Wait:
    reason: str
    message: str


@dataclass(frozen=True)
class Fail:
    reason: str
    message: str


@dataclass(frozen=True)
class Proceed:
    checkpoint: CheckpointView
    snapshot_id: str


def plan_admission(
    checkpoint: CheckpointView | None, *, ref: str, namespace: str, begun: CheckpointView | None = None
) -> Wait | Fail | Proceed:
    """Whether a restore may run. `begun`: the checkpoint as the meta DB recorded it when this restore's
    intent was recorded (it may be under way in Neon): such a restore is finished whatever happened to the
    Checkpoint resource since (deleted, being deleted), or its status would contradict production."""
    if begun is not None and begun.snapshot_id is not None:
        return Proceed(begun, begun.snapshot_id)
    if checkpoint is None:
        return Fail("CheckpointNotFound", f"Checkpoint {namespace}/{ref} not found")
    if checkpoint.phase == "Failed":
        return Fail("CheckpointFailed", f"Checkpoint {namespace}/{ref} failed; it cannot be restored")
    if checkpoint.phase == "Deleting":
        return Fail("CheckpointDeleting", f"Checkpoint {namespace}/{ref} is being deleted")
    if checkpoint.phase != "Ready" or checkpoint.snapshot_id is None:
        return Wait(
            "CheckpointNotReady",
            f"waiting for Checkpoint {namespace}/{ref} to become Ready (phase {checkpoint.phase or 'none'})",
        )
    return Proceed(checkpoint, checkpoint.snapshot_id)


# -- the restore itself --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreObserved:
    # The branch named like the checkpoint's branch NOW (a finalized restore gives it a new id).
    production: Branch | None
    # Branches Neon made from the checkpoint's snapshot (`restored_from` = snapshot id).
    restored: tuple[Branch, ...]
    intent: Intent | None


@dataclass(frozen=True)
class IssueRestore:
    snapshot_id: str
    target_branch_id: str
    finalize: bool
    # The new branch's name (Preview only; Neon overwrites it with the target's name on finalize).
    name: str | None


@dataclass(frozen=True)
class AdoptRestore:
    """An earlier attempt's restore request was accepted (crash, ambiguous failure): finish that one."""

    branch: Branch


RestoreAction = IssueRestore | AdoptRestore | Fail


def plan_restore(
    mode: Mode, observed: RestoreObserved, *, snapshot_id: str, preview_name: str, branch_label: str
) -> RestoreAction:
    earlier = find_earlier_restore(
        observed.restored, mode=mode, intent=observed.intent, preview_name=preview_name
    )
    if earlier is not None:
        return AdoptRestore(earlier)
    if observed.production is None:
        return Fail("BranchNotFound", f"the Neon project has no {branch_label} to restore")
    finalize = mode == "Finalize"
    return IssueRestore(
        snapshot_id=snapshot_id,
        target_branch_id=observed.production.id,
        finalize=finalize,
        name=None if finalize else preview_name,
    )


@dataclass(frozen=True)
class Adoption:
    """How to finish a restore an earlier attempt requested: what to wait for, and when it started."""

    operations: tuple[Operation | str, ...]
    intent: Intent


def plan_adoption(
    branch: Branch,
    *,
    intent: Intent | None,
    project_operations: Sequence[Operation],
    recorded: Sequence[str],
) -> Adoption:
    """For `AdoptRestore(branch)`. Under the project lock every unfinished operation of the project is this
    restore's (or Neon's own): wait for those, and for the ids the meta row recorded (by id: they may have
    finished and left the listing's in-progress part). A Preview found by name whose intent never reached
    the meta DB takes one from its branch: started when Neon made it, aimed at the branch it restored."""
    pending = [op for op in project_operations if op.in_progress]
    seen = {op.id for op in pending}
    operations: tuple[Operation | str, ...] = (
        *pending,
        *(op_id for op_id in recorded if op_id and op_id not in seen),
    )
    if intent is None:
        intent = Intent(branch.created_at, branch.restored_as or "")
    return Adoption(operations, intent)


def kept_old_branch(status: int, message: str) -> str | None:
    """oldBranchPolicy Delete, once the restore itself has succeeded: a refusal of the delete (any 4xx but
    423/429, e.g. the branch has children) keeps the replaced branch, and this says so for the restore's
    message. None: not a refusal, so the failure propagates and the resumed flow tries the delete again."""
    if not is_refusal_status(status):
        return None
    return f"; the replaced branch was kept: Neon refused to delete it ({status}: {message})"


def branch_label(branch: str | None) -> str:
    return f"branch named {branch!r}" if branch else "default branch"


def pick_production(branches: Sequence[Branch], name: str | None) -> Branch | None:
    """The branch a restore targets: exact name match (never `<name> (old)`), or the default branch."""
    if name:
        return next((b for b in branches if b.name == name), None)
    return next((b for b in branches if b.default), None)


def pick_database(databases: Sequence[Database]) -> Database | None:
    """The app's database on a preview branch: the first one the branch has (by id), with its owner role.
    Neon lists only user databases; `postgres` is skipped in case a server lists it too."""
    users = [d for d in databases if d.name != "postgres"] or list(databases)
    return min(users, key=lambda d: d.id, default=None)


def duration_seconds(started_at: dt.datetime, completed_at: dt.datetime) -> float:
    return round(max(0.0, (completed_at - started_at).total_seconds()), 3)


# -- the Preview's Secret ----------------------------------------------------------------------------------


def plan_preview_secret(owners: Sequence[str] | None, *, restore_uid: str, name: str) -> bool | Fail:
    """Whether the Preview may write its Secret: False to create it (none of that name), True to replace its
    own, or Fail when a Secret of that name belongs to someone else: it is left untouched."""
    if owners is None:
        return False
    if restore_uid in owners:
        return True
    return Fail(
        "SecretNameTaken",
        f"Secret {name} already exists and is not this restore's; it was left untouched "
        "(set spec.previewSecretName to a free name)",
    )
