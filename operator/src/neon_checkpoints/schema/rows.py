"""The data half of `diff --data` (pure): which columns and key two versions of a table are compared on, the
merge of their row hashes, and the names of the short-lived branches the comparison reads from."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from neon_checkpoints.schema.structure import Table

# Branches `diff --data` opens carry this prefix, then `<host>-<pid>-<random>`: a later diff deletes those
# whose process is gone (same host) or that are older than STALE_AFTER_SECONDS (any host).
DATA_BRANCH_PREFIX = "ckpt-diff-"
STALE_AFTER_SECONDS = 3600.0
_NAME = re.compile(re.escape(DATA_BRANCH_PREFIX) + r"(?P<host>[A-Za-z0-9.-]*)-(?P<pid>\d+)-[0-9a-f]+-[ab]$")


def data_branch_name(host: str, pid: int, side: Literal["a", "b"]) -> str:
    host = re.sub(r"[^A-Za-z0-9.-]", "-", host)[:40]
    return f"{DATA_BRANCH_PREFIX}{host}-{pid}-{secrets.token_hex(4)}-{side}"


def is_leftover(name: str, *, host: str, alive: Iterable[int], age_seconds: float) -> bool:
    """Whether a branch is a diff's that no running diff will delete."""
    if not name.startswith(DATA_BRANCH_PREFIX):
        return False
    if age_seconds > STALE_AFTER_SECONDS:
        return True
    match = _NAME.match(name)
    if match is None:
        return False
    return match["host"] == re.sub(r"[^A-Za-z0-9.-]", "-", host)[:40] and int(match["pid"]) not in set(alive)


def compared_columns(a: Table, b: Table) -> tuple[str, ...]:
    """The columns both versions have (in B's order): an added column does not make every row differ."""
    names = {c.name for c in a.columns}
    return tuple(c.name for c in b.columns if c.name in names)


def row_key(a: Table, b: Table, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The primary key both versions share (among the compared columns); () compares whole rows."""

    def primary(t: Table) -> tuple[str, ...]:
        return next((c.columns for c in t.constraints if c.type == "primary_key"), ())

    key = primary(a)
    return key if key and key == primary(b) and set(key) <= set(columns) else ()


@dataclass(frozen=True)
class RowHash:
    key: str  # md5 of the key columns (of the whole row without a key), in "C" order
    content: str  # md5 of the compared columns


@dataclass
class RowMerge:
    added: int = 0
    removed: int = 0
    changed: int = 0
    # Key hashes of up to `limit` differing rows each way, with what happened to them.
    examples: list[tuple[Literal["added", "removed", "changed"], str]] = field(default_factory=list)


def merge_rows(a: Iterator[RowHash], b: Iterator[RowHash], *, keyed: bool, limit: int) -> RowMerge:
    """Both streams sorted by key; counts every difference, keeps `limit` examples."""
    out = RowMerge()

    def note(kind: Literal["added", "removed", "changed"], key: str) -> None:
        setattr(out, kind, getattr(out, kind) + 1)
        if len(out.examples) < limit:
            out.examples.append((kind, key))

    left, right = next(a, None), next(b, None)
    while left is not None or right is not None:
        if right is None or (left is not None and left.key < right.key):
            assert left is not None
            note("removed", left.key)
            left = next(a, None)
        elif left is None or right.key < left.key:
            note("added", right.key)
            right = next(b, None)
        else:
            if keyed and left.content != right.content:
                note("changed", left.key)
            left, right = next(a, None), next(b, None)
    return out
