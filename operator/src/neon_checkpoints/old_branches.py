"""Pruning the `<name> (old)` branches that finalized restores leave behind.

Every finalized restore keeps the replaced branch as `<name> (old)` (neon-api.md §6.2); they count against
the project's branch limit and cost storage. With `NEON_CHECKPOINTS_KEEP_OLD_BRANCHES=N` the operator keeps
only the newest N per project. `select_old_branches` decides (pure); `prune_old_branches` executes.

Snapshots taken before a restore stay attached to the `(old)` branch (their `source_branch_id`). Whether
Neon lets such a branch be deleted is not documented (neon-api.md §11 q6), so both answers are handled: if
the delete is refused, the branch is kept and reported (`PruneResult.kept`); if it succeeds, the snapshots
survive on their own and restoring them still works (the emulator behaves this way).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from neon_api import AsyncNeonClient, errors
from neon_api.models import Branch

SETTING = "NEON_CHECKPOINTS_KEEP_OLD_BRANCHES"
# `production (old)`, and the emulator's `production (old 2)` when that name is taken.
_OLD_NAME = re.compile(r"^.+ \(old( [0-9]+)?\)$")


def replaced_at(branch: Branch, branches: Sequence[Branch]) -> dt.datetime:
    """When `branch` was replaced: the creation of the branch that took its place (`restored_as`), else
    its own last update (the rename to `(old)`)."""
    successor = next((b for b in branches if b.restored_as == branch.id), None)
    if successor is not None:
        return successor.created_at
    return branch.updated_at or branch.created_at


def is_replaced(branch: Branch, branches: Sequence[Branch]) -> bool:
    if branch.default or branch.protected:
        return False
    return any(b.restored_as == branch.id for b in branches) or bool(_OLD_NAME.match(branch.name))


def select_old_branches(branches: Sequence[Branch], keep: int) -> tuple[Branch, ...]:
    """The `(old)` branches to delete: all but the `keep` most recently replaced. Branches with children
    are skipped (Neon refuses to delete them)."""
    parents = {b.parent_id for b in branches if b.parent_id}
    old = sorted(
        (b for b in branches if is_replaced(b, branches)),
        key=lambda b: (replaced_at(b, branches), b.id),
        reverse=True,
    )
    return tuple(b for b in old[keep:] if b.id not in parents)


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
    """Delete the surplus `(old)` branches of one project. A refusal (4xx) keeps that branch and is reported;
    retryable failures (423/429/5xx, transport) propagate for the caller to retry later."""
    branches = await client.list_branches(project_id)
    deleted: list[str] = []
    kept: list[KeptBranch] = []
    for branch in select_old_branches(branches, keep):
        try:
            operations = await client.delete_branch(project_id, branch.id)
            await client.wait_for_operations(project_id, operations, timeout=operation_timeout)
        except (errors.Locked, errors.RateLimited):
            raise
        except errors.NeonClientError as exc:
            # E.g. snapshots still hang off it (neon-api.md §11 q6): keep it rather than fight Neon.
            reason = f"Neon refused to delete it ({exc.status}): {exc.message}"
            kept.append(KeptBranch(branch.id, branch.name, reason))
            continue
        except errors.OperationFailed as exc:
            kept.append(KeptBranch(branch.id, branch.name, f"deleting it failed: {exc}"))
            continue
        deleted.append(branch.id)
    return PruneResult(tuple(deleted), tuple(kept))
