"""Whether and how an undo runs (pure, no I/O): `spec.undo.restoreRef` names a finalized restore; production
goes back to the branch that restore replaced, with Neon's branch restore (the `(old)` branch as source,
production as target: same branch id, same endpoints, same connection string)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from neon_api.models import Branch
from neon_checkpoints.restore.plan import Fail, Wait


@dataclass(frozen=True)
class UndoneView:
    """The restore being undone, as the meta database recorded it."""

    uid: str
    name: str
    mode: str
    phase: str
    project_id: str
    branch_name: str
    replaced_branch_id: str | None


@dataclass(frozen=True)
class ProceedUndo:
    undone: UndoneView
    old_branch_id: str


def plan_undo_admission(undone: UndoneView | None, *, ref: str, namespace: str) -> Fail | Wait | ProceedUndo:
    if undone is None:
        return Fail(
            "RestoreNotFound", f"CheckpointRestore {namespace}/{ref} not found (nor in the meta database)"
        )
    if undone.mode not in ("Finalize", "Undo"):
        return Fail(
            "NotUndoable",
            f"CheckpointRestore {namespace}/{ref} is a {undone.mode}: only a finalized "
            "restore changes production, so only it can be undone",
        )
    if undone.phase == "Failed":
        return Fail("NotUndoable", f"CheckpointRestore {namespace}/{ref} failed; there is nothing to undo")
    if undone.phase != "Succeeded":
        return Wait("RestoreNotFinished", f"waiting for CheckpointRestore {namespace}/{ref} to finish")
    if not undone.replaced_branch_id:
        return Fail("NotUndoable", f"CheckpointRestore {namespace}/{ref} recorded no replaced branch")
    return ProceedUndo(undone, undone.replaced_branch_id)


@dataclass(frozen=True)
class IssueBranchRestore:
    target_branch_id: str
    source_branch_id: str
    preserve_under_name: str


@dataclass(frozen=True)
class AdoptBranchRestore:
    """The branch restore was accepted by an earlier attempt: its preserved branch exists."""

    target_branch_id: str
    preserved: Branch


def plan_undo_restore(
    branches: Sequence[Branch],
    *,
    production: Branch | None,
    old_branch_id: str,
    preserve_name: str,
    recorded_target: str | None,
    undone_name: str,
) -> IssueBranchRestore | AdoptBranchRestore | Fail:
    preserved = next((b for b in branches if b.name == preserve_name), None)
    if preserved is not None and recorded_target is not None:
        return AdoptBranchRestore(recorded_target, preserved)
    if not any(b.id == old_branch_id for b in branches):
        return Fail(
            "OldBranchGone",
            f"the branch {old_branch_id} that CheckpointRestore {undone_name} replaced no longer exists "
            "(pruned, or deleted by oldBranchPolicy: Delete): there is nothing to undo to",
        )
    if production is None:
        return Fail("BranchNotFound", "the Neon project has no production branch to undo onto")
    # Always preserved (Neon requires it only with children): nothing written since the restore is lost.
    return IssueBranchRestore(production.id, old_branch_id, preserve_name)
