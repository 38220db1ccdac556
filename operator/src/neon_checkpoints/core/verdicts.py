"""A verdict on a failure: retry later (with a delay) or fail now, with the reason and message that go
into the resource's status and an Event (pure; runtime/errors.py turns exceptions into verdicts)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    retry: bool
    reason: str
    message: str
    delay: float = 0.0


# Neon's 4xx answers that mean "not now" rather than "no": 423 (a conflicting operation runs), 429.
NOT_NOW_STATUSES = frozenset({423, 429})


def is_refusal_status(status: int) -> bool:
    """Neon said no for good (a 4xx other than 423/429): asking again would get the same answer."""
    return 400 <= status < 500 and status not in NOT_NOW_STATUSES


# Retried, but only a person (or a change elsewhere) can unblock them: shown as kstatus `Stalled` while the
# operator keeps retrying. Other issues add theirs here (a snapshot cap, an exhausted request budget).
BLOCKED_REASONS = frozenset(
    {
        "SecretNotFound",
        "SecretKeyMissing",
        "SecretUnreadable",
        "OperationTimeout",
        "SnapshotLimitReached",
        "BudgetExhausted",
    }
)


def is_stalled(verdict: Verdict) -> bool:
    """Given up (no retry), or retried while blocked (BLOCKED_REASONS)."""
    return not verdict.retry or verdict.reason in BLOCKED_REASONS
