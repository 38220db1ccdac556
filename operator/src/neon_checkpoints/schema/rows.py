"""The data half of `diff --data` (pure): which columns and key two versions of a table are compared on, how
their rows fall into buckets, the merge of their row hashes, and the names of the short-lived branches the
comparison reads from."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, NamedTuple, TypeVar

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


# What format_type (and Neon's schema) call the integer types a key can be bucketed by range on.
INTEGER_TYPES = frozenset({"smallint", "integer", "bigint", "int2", "int4", "int8"})
# Buckets per table: one scan per side sums each; only the rows of the buckets that differ are read again.
BUCKETS = 65536
# Differing key-range buckets holding more rows than this (both sides) are split _SPLIT ways (again, while
# they do) before their rows are read: a sum in SQL costs far less per row than sending and merging it.
REFINE_ABOVE = 20_000
_SPLIT = 8
_BIGINT_MAX = 2**63 - 1


def integer_key(a: Table, b: Table, key: tuple[str, ...]) -> str | None:
    """The key's column when the key is one integer column on both sides (a serial or int primary key)."""
    if len(key) != 1:
        return None

    def type_of(t: Table) -> str | None:
        return next((c.type for c in t.columns if c.name == key[0]), None)

    return key[0] if type_of(a) in INTEGER_TYPES and type_of(b) in INTEGER_TYPES else None


@dataclass(frozen=True)
class KeyRange:
    """Buckets of an integer key by range: bucket n holds the keys lo + n * width .. lo + (n + 1) * width - 1,
    so a bucket that differs is read again by an index range scan, in key order."""

    lo: int
    hi: int
    width: int

    def spans(self, buckets: Sequence[int]) -> list[tuple[int, int]]:
        """The key ranges (first, last) of `buckets` (sorted), adjacent buckets as one range."""
        out: list[tuple[int, int]] = []
        for n in buckets:
            first, last = self.lo + n * self.width, min(self.lo + (n + 1) * self.width - 1, self.hi)
            if out and out[-1][1] == first - 1:
                out[-1] = (out[-1][0], last)
            else:
                out.append((first, last))
        return out

    def finer(self) -> KeyRange:
        return KeyRange(self.lo, self.hi, -(-self.width // _SPLIT))


def clip(spans: Sequence[tuple[int, int]], within: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of `spans` inside `within` (both sorted and disjoint)."""
    out, j = [], 0
    for first, last in spans:
        while j < len(within) and within[j][1] < first:
            j += 1
        k = j
        while k < len(within) and within[k][0] <= last:
            out.append((max(first, within[k][0]), min(last, within[k][1])))
            k += 1
    return out


def key_range(bounds: Iterable[tuple[int | None, int | None]], buckets: int = BUCKETS) -> KeyRange | None:
    """The range buckets for both sides' (min, max) of the key (None on an empty side); None when no side has
    rows, or when `key - lo` would not fit a bigint (the key's md5 buckets it then)."""
    found = [(lo, hi) for lo, hi in bounds if lo is not None and hi is not None]
    if not found:
        return None
    lo, hi = min(b[0] for b in found), max(b[1] for b in found)
    if hi - lo > _BIGINT_MAX:
        return None
    return KeyRange(lo, hi, -(-(hi - lo + 1) // buckets))


K = TypeVar("K", str, int)


class RowHash(NamedTuple, Generic[K]):  # a tuple: the merge makes one per row of the buckets that differ
    key: (
        K  # the integer key itself, else the md5 of the key's text (the whole row's without a key), "C" order
    )
    content: tuple[int, int]  # the compared columns' text hashed with two seeds
    at: str = ""  # the row's ctid on its side (the branch is only read): where an example is read again


Change = Literal["added", "removed", "changed"]


@dataclass
class RowMerge:
    added: int = 0
    removed: int = 0
    changed: int = 0
    # Up to `limit` differing rows: what happened, and where A and B hold them (ctid; None on the other side).
    examples: list[tuple[Change, str | None, str | None]] = field(default_factory=list)


def merge_rows(a: Iterator[RowHash[K]], b: Iterator[RowHash[K]], *, keyed: bool, limit: int) -> RowMerge:
    """Both streams sorted by key alike; counts every difference, keeps `limit` examples."""
    out = RowMerge()

    def note(kind: Change, left: RowHash[K] | None, right: RowHash[K] | None) -> None:
        setattr(out, kind, getattr(out, kind) + 1)
        if len(out.examples) < limit:
            out.examples.append((kind, left.at if left else None, right.at if right else None))

    left, right = next(a, None), next(b, None)
    while left is not None or right is not None:
        if right is None or (left is not None and left.key < right.key):
            assert left is not None
            note("removed", left, None)
            left = next(a, None)
        elif left is None or right.key < left.key:
            note("added", None, right)
            right = next(b, None)
        else:
            if keyed and left.content != right.content:
                note("changed", left, right)
            left, right = next(a, None), next(b, None)
    return out
