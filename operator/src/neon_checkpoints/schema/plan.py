"""When and what the schema capture of a Ready checkpoint does (pure): which databases, at which point, and
after a failure whether and when to try again (capped exponential backoff, a bounded number of tries)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CONDITION = "SchemaCaptured"
# Never a checkpoint's app data: Neon lists none of these, a server may have them.
SYSTEM_DATABASES = frozenset({"postgres", "template0", "template1"})
MAX_ATTEMPTS = 8
FIRST_DELAY = 2.0
MAX_DELAY = 300.0


@dataclass(frozen=True)
class Point:
    """Where on the branch the schema is read: the snapshot's LSN when Neon gave one, else its timestamp."""

    branch_id: str
    lsn: str | None = None
    timestamp: str | None = None


@dataclass(frozen=True)
class Retry:
    delay: float


@dataclass(frozen=True)
class GiveUp:
    reason: str


def condition_of(status: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == CONDITION), None)


def needs_capture(status: Mapping[str, Any]) -> bool:
    """A Ready checkpoint whose capture has neither succeeded nor been given up."""
    if status.get("phase") != "Ready" or not status.get("checkpointId"):
        return False
    condition = condition_of(status)
    if condition is None:
        return True
    return condition.get("status") != "True" and int(status.get("schemaAttempts") or 0) < MAX_ATTEMPTS


def capture_point(branch_id: str | None, lsn: str | None, timestamp: str | None) -> Point | None:
    """The snapshot's point as Neon lists it (verbatim: status keeps whole seconds only)."""
    if not branch_id:
        return None
    if lsn:
        return Point(branch_id, lsn=lsn)
    if timestamp:
        return Point(branch_id, timestamp=timestamp)
    return None


def point_from_status(status: Mapping[str, Any]) -> Point | None:
    """The point Ready recorded (Neon's `lsn` as the POST or the listing gave it, verbatim), so a capture
    needs no snapshot listing; None when status has no lsn (its `timestamp` keeps whole seconds only)."""
    branch_id, lsn = status.get("sourceBranchId"), status.get("lsn")
    return Point(branch_id, lsn=lsn) if branch_id and lsn else None


# pg_dump's `\restrict KEY` / `\unrestrict KEY` lines: a random key per dump, not the schema.
_DUMP_KEYS = ("\\restrict ", "\\unrestrict ")
_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def diff_says_unchanged(diff: str) -> bool:
    """Whether Neon's `compare_schema` answer (a unified diff) has no change but dump keys. Hunks are read
    by their counts (a removed `-- comment` line looks like a `---` file header); anything unexpected is
    a change, so the schema is read again."""
    lines = diff.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        hunk = _HUNK.match(line)
        if hunk is None:
            if not line.startswith(("--- ", "+++ ", "diff ", "index ")) and line.strip():
                return False
            i += 1
            continue
        old = int(hunk[1]) if hunk[1] is not None else 1
        new = int(hunk[2]) if hunk[2] is not None else 1
        i += 1
        while (old > 0 or new > 0) and i < len(lines):
            body, i = lines[i], i + 1
            kind = body[:1]
            if kind == "\\":  # "\ No newline at end of file"
                continue
            if kind in ("-", "+"):
                if not body[1:].startswith(_DUMP_KEYS):
                    return False
                old, new = (old - 1, new) if kind == "-" else (old, new - 1)
            else:  # context (" ", or an empty line whose space was trimmed)
                old, new = old - 1, new - 1
    return True


def databases_to_capture(requested: Sequence[str], listed: Sequence[str]) -> tuple[str, ...]:
    """`spec.databases` as given; without it, the branch's databases minus the system ones (sorted)."""
    if requested:
        return tuple(requested)
    return tuple(sorted(d for d in set(listed) if d not in SYSTEM_DATABASES))


def after_failure(*, retryable: bool, attempt: int, least_delay: float) -> Retry | GiveUp:
    """`attempt`: how many tries have failed, this one included."""
    if not retryable:
        return GiveUp("the answer will not change")
    if attempt >= MAX_ATTEMPTS:
        return GiveUp(f"{attempt} attempts failed")
    return Retry(max(least_delay, min(MAX_DELAY, FIRST_DELAY * 2 ** (attempt - 1))))
