"""When and how long to wait before resending a request: pure decisions, no sleeping here.

Only errors Neon documents as safe to repeat are retried (423, 429, 503 for any method; transport errors for
idempotent methods), with full-jitter exponential backoff that honours `Retry-After`, within a deadline.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from neon_api.errors import NeonError


@dataclass(frozen=True)
class RetryPolicy:
    """`max_elapsed`: give up once this many seconds have passed since the first attempt (0 = never retry).

    `rng` returns a float in [0, 1); inject a fixed one in tests for deterministic delays.
    """

    max_elapsed: float = 60.0
    base: float = 0.25
    cap: float = 10.0
    rng: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt))."""
        return self.rng() * min(self.cap, self.base * 2.0**attempt)

    def delay(self, error: NeonError, attempt: int, elapsed: float) -> float | None:
        """Seconds to sleep before attempt `attempt + 1`, or None to give up and raise `error`."""
        if not error.retryable:
            return None
        retry_after = getattr(error, "retry_after", None)
        wait = retry_after if retry_after is not None else self.backoff(attempt)
        # Sleeping past the deadline only delays the same failure.
        if elapsed + wait > self.max_elapsed:
            return None
        return wait


NO_RETRY = RetryPolicy(max_elapsed=0.0)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP-date; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
