"""Which `(old)` branches pruning removes (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from neon_api.models import Branch
from neon_checkpoints.restore.old_branches import select_old_branches

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def branch(
    bid: str,
    name: str,
    created: float,
    *,
    default: bool = False,
    restored_as: str | None = None,
    parent: str | None = None,
    protected: bool = False,
) -> Branch:
    return Branch(
        id=bid,
        project_id="p",
        name=name,
        parent_id=parent,
        default=default,
        protected=protected,
        current_state="ready",
        created_at=at(created),
        restored_as=restored_as,
    )


# Three finalized restores of `production`: br-0 -> br-1 -> br-2 -> br-3 (current).
HISTORY = [
    branch("br-0", "production (old)", 0),
    branch("br-1", "production (old 2)", 10, restored_as="br-0"),
    branch("br-2", "production (old 3)", 20, restored_as="br-1"),
    branch("br-3", "production", 30, default=True, restored_as="br-2"),
]


@pytest.mark.parametrize(
    ("situation", "branches", "keep", "expected"),
    [
        ("keep none", HISTORY, 0, ["br-2", "br-1", "br-0"]),
        ("keep the newest one", HISTORY, 1, ["br-1", "br-0"]),
        ("keep more than exist", HISTORY, 5, []),
        (
            "renamed old branch found through restored_as",
            [branch("br-0", "before-restore", 0), branch("br-1", "production", 10, restored_as="br-0")],
            0,
            ["br-0"],
        ),
        (
            "ordinary, default and protected branches are never picked",
            [
                branch("br-a", "dev", 0),
                branch("br-b", "main (old)", 1, protected=True),
                branch("br-c", "production", 2, default=True),
            ],
            0,
            [],
        ),
        (
            "a branch with children is skipped (Neon refuses to delete it)",
            [*HISTORY, branch("br-x", "feature", 40, parent="br-0")],
            0,
            ["br-2", "br-1"],
        ),
    ],
)
def test_select_old_branches(situation: str, branches: list[Branch], keep: int, expected: list[str]) -> None:
    assert [b.id for b in select_old_branches(branches, keep)] == expected, situation
