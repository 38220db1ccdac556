"""Pruning `(old)` branches after finalized restores (decisions in old_branches.py).

Snapshots taken before a restore stay attached to the `(old)` branch (their `source_branch_id`). Whether
Neon lets such a branch be deleted is not documented (neon-api.md §11 q6), so both answers are handled: if
the delete is refused, the branch is kept and reported; if it succeeds, the snapshots survive on their own
and restoring them still works (the emulator behaves this way). Deletes are hard (`hard_delete=true`): a
soft-deleted `(old)` branch would linger 7 days and count against the project's branch limit.

A finalized restore that succeeded is what makes a new `(old)` branch, so each such CheckpointRestore gets a
short-lived daemon that prunes its project once, under the per-project lock like every mutating flow, with
the key the restore itself used (the one credential resolver), in the project its meta row names (its
Checkpoint may be gone). Retryable failures (423/429/5xx, transport, meta DB, Kubernetes) are retried; a
refusal (any other 4xx) is reported as a Warning Event and not retried, since asking again gets the same no.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kopf

from neon_api import AsyncNeonClient, errors
from neon_checkpoints.core.tenancy import ProjectNotAllowed
from neon_checkpoints.restore.old_branches import select_old_branches
from neon_checkpoints.restore.spec import RestoreSpec
from neon_checkpoints.runtime.errors import is_refusal
from neon_checkpoints.runtime.runtime import Runtime


@dataclass(frozen=True)
class KeptBranch:
    branch_id: str
    name: str
    reason: str


@dataclass(frozen=True)
class PruneResult:
    deleted: tuple[str, ...]
    kept: tuple[KeptBranch, ...]


async def prune_old_branches(
    client: AsyncNeonClient, project_id: str, keep: int, *, operation_timeout: float
) -> PruneResult:
    """Delete the surplus `(old)` branches of one project. A refused delete keeps that branch and is
    reported; retryable failures (423/429/5xx, transport) propagate for the caller to retry later."""
    branches = await client.list_branches(project_id)
    deleted: list[str] = []
    kept: list[KeptBranch] = []
    for branch in select_old_branches(branches, keep):
        try:
            operations = await client.delete_branch(project_id, branch.id, hard_delete=True)
            await client.wait_for_operations(project_id, operations, timeout=operation_timeout)
        except errors.NeonClientError as exc:
            if not is_refusal(exc):
                raise
            # E.g. snapshots still hang off it (neon-api.md §11 q6): keep it rather than fight Neon.
            reason = f"Neon refused to delete it ({exc.status}): {exc.message}"
            kept.append(KeptBranch(branch.id, branch.name, reason))
            continue
        except errors.OperationFailed as exc:
            kept.append(KeptBranch(branch.id, branch.name, f"deleting it failed: {exc}"))
            continue
        deleted.append(branch.id)
    return PruneResult(tuple(deleted), tuple(kept))


async def prune_for_restore(runtime: Runtime, keep: int, body: kopf.Body, logger: Any) -> None:
    """Prune the project of one succeeded Finalize restore. Returns when done or refused; raises what is
    worth retrying."""
    namespace = body.metadata.namespace or ""
    spec = RestoreSpec.from_dict(body.spec)
    row = await runtime.store.get_restore(body.metadata.uid or "")
    if row is None:
        logger.info("no meta row for this restore: it made no (old) branch to prune")
        return
    project = row.project_id
    # An undo names no Checkpoint: its own key, else the operator's.
    key = (
        await runtime.credentials.checkpoint_ref(namespace, spec.checkpoint, row.checkpoint_id)
        if spec.checkpoint
        else None
    )
    try:
        async with (
            runtime.credentials.client(namespace, project, spec.credentials, key) as client,
            runtime.store.locks.hold(project, wait=runtime.settings.project_lock_wait),
        ):
            result = await prune_old_branches(
                client, project, keep, operation_timeout=runtime.settings.operation_timeout
            )
    except ProjectNotAllowed as exc:
        runtime.kube.event(body, type="Warning", reason="ProjectNotAllowed", message=f"no pruning: {exc}")
        logger.warning("pruning (old) branches of %s not allowed; not retrying", project)
        return
    except errors.NeonClientError as exc:
        if not is_refusal(exc):
            raise
        runtime.kube.event(
            body,
            type="Warning",
            reason="OldBranchPruneRefused",
            message=f"pruning (old) branches of project {project} was refused by Neon "
            f"({exc.status}): {exc.message}; not retrying",
        )
        logger.warning("pruning (old) branches of %s refused (%s); not retrying", project, exc.status)
        return
    if result.deleted:
        logger.info("deleted (old) branches of project %s: %s", project, ", ".join(result.deleted))
    for kept in result.kept:
        runtime.kube.event(
            body,
            type="Warning",
            reason="OldBranchKept",
            message=f"kept {kept.name!r} ({kept.branch_id}) of project {project}: {kept.reason}",
        )
