"""Which `<name> (old)` branches to prune (pure; prune.py executes).

Every finalized restore keeps the replaced branch as `<name> (old)` (neon-api.md §6.2); they count against
the project's branch limit and cost storage. With `NEON_CHECKPOINTS_KEEP_OLD_BRANCHES=N` the operator keeps
only the newest N per project.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from neon_api.models import Branch

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
