"""A client-side request budget per API key, so a busy operator stays inside Neon's rate limits instead of
meeting 429s (neon-api.md §1: about 700 requests a minute per account, 40 a second per route).

Two token buckets: one for the key (a minute's allowance), one per route (a second's). Each bucket holds a
tenth of its window's allowance and refills the other nine tenths evenly over the window, so no sliding
window of that length ever admits more than the allowance. A request reserves a token in both and waits
until both would have one (reservations queue: tokens may go negative). A 429 halves the refill rate (not
below a tenth) and holds every request back until its `Retry-After`; the rate then recovers additively, a
tenth of the full rate per second without a 429. The decisions are pure (`reserve`, `refused` take the time);
`acquire` is the only await. Every client of one key shares one `KeyShare` (the budget and the requests in
flight), however many client objects the operator makes for it.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from neon_api.coalesce import InFlight
from neon_api.protocol import Response

BURST_SHARE = 0.1  # of a window's allowance, available at once
MIN_SCALE = 0.1  # the refill rate never drops below this share of the configured one
RECOVERY_PER_SECOND = 0.1  # share of the configured rate regained per second without a 429
NOTICE_AFTER = 1.0  # a wait this long is reported to `on_budget_wait`

# Set by whoever sends on behalf of someone who should hear about long waits (a flow's status): called with
# the expected wait in seconds before the request sleeps for budget.
on_budget_wait: contextvars.ContextVar[Callable[[float], Awaitable[None]] | None] = contextvars.ContextVar(
    "on_budget_wait", default=None
)


@dataclass(frozen=True)
class BudgetLimits:
    per_minute: int = 0  # requests a minute for the key; 0: unlimited
    per_route_per_second: int = 0  # requests a second per route (method + path template); 0: unlimited

    @property
    def enabled(self) -> bool:
        return bool(self.per_minute or self.per_route_per_second)


NEON_LIMITS = BudgetLimits(700, 40)


@dataclass
class TokenBucket:
    allowance: float  # requests per `window` seconds
    window: float
    tokens: float = field(init=False)
    stamp: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    @property
    def capacity(self) -> float:
        return max(1.0, self.allowance * BURST_SHARE)

    @property
    def rate(self) -> float:
        """Tokens per second at full scale."""
        return (self.allowance - self.capacity) / self.window if self.allowance > self.capacity else 1e-9

    def reserve(self, now: float, scale: float) -> float:
        """Take a token; seconds until it is really there (0: at once)."""
        if self.stamp is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate * scale)
        self.stamp = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / (self.rate * scale)


def route_of(method: str, path: str) -> str:
    """`GET /projects/*/operations/*`: Neon's paths alternate collection and id, so every second segment
    is an id."""
    segments = path.strip("/").split("/")
    return f"{method} /" + "/".join("*" if i % 2 else s for i, s in enumerate(segments))


class RequestBudget:
    def __init__(self, limits: BudgetLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._key = TokenBucket(limits.per_minute, 60.0) if limits.per_minute else None
        self._routes: dict[str, TokenBucket] = {}
        self._scale = 1.0
        self._scaled_at = 0.0
        self._not_before = 0.0
        self.waits = 0  # requests that waited for budget
        self.waited = 0.0  # seconds they waited, in all
        self.refusals = 0  # 429s seen

    @property
    def scale(self) -> float:
        return self._scale

    def _recover(self, now: float) -> float:
        if self._scale < 1.0:
            self._scale = min(1.0, self._scale + RECOVERY_PER_SECOND * max(0.0, now - self._scaled_at))
        self._scaled_at = now
        return self._scale

    def reserve(self, route: str, now: float) -> float:
        """Book one request on `route` at `now`; seconds it must wait first."""
        scale = self._recover(now)
        wait = max(0.0, self._not_before - now)
        if self._key is not None:
            wait = max(wait, self._key.reserve(now, scale))
        if self.limits.per_route_per_second:
            bucket = self._routes.get(route)
            if bucket is None:
                bucket = self._routes[route] = TokenBucket(self.limits.per_route_per_second, 1.0)
            wait = max(wait, bucket.reserve(now, scale))
        return wait

    def refused(self, retry_after: float | None, now: float | None = None) -> None:
        """Neon answered 429: slow down, and send nothing before its Retry-After."""
        now = self._clock() if now is None else now
        self.refusals += 1
        self._scale = max(MIN_SCALE, self._recover(now) / 2)
        if retry_after is not None:
            self._not_before = max(self._not_before, now + retry_after)

    async def acquire(self, route: str, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> float:
        """Wait until a request on `route` fits the budget; returns the seconds waited."""
        if not self.limits.enabled and self._not_before <= self._clock():
            return 0.0
        wait = self.reserve(route, self._clock())
        if wait <= 0:
            return 0.0
        self.waits += 1
        self.waited += wait
        notify = on_budget_wait.get()
        if notify is not None and wait >= NOTICE_AFTER:
            await notify(wait)
        await sleep(wait)
        return wait


@dataclass
class KeyShare:
    """What every client of one API key shares: its request budget and its GETs in flight."""

    budget: RequestBudget
    in_flight: InFlight[Response] = field(default_factory=InFlight)


class KeyShares:
    """One `KeyShare` per API key (held by a digest of the key, never the key)."""

    def __init__(self, limits: BudgetLimits) -> None:
        self.limits = limits
        self._shares: dict[str, KeyShare] = {}

    def for_key(self, api_key: str) -> KeyShare:
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        share = self._shares.get(digest)
        if share is None:
            share = self._shares[digest] = KeyShare(RequestBudget(self.limits))
        return share

    def all(self) -> list[KeyShare]:
        return list(self._shares.values())
