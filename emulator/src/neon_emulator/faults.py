"""Fault injection for other components' tests: latency, 423/429/503 answers per route, failing operations.

Configuration is one JSON document, the same for the `NEON_EMULATOR_FAULTS` environment variable, the
`--faults-json` flag and `PUT /admin/faults`::

    {
      "seed": 7,                         # draws are reproducible for a given seed and request order
      "latency": 0.05,                   # seconds added to every /api/v2 request
      "operation_delay": 0.2,            # seconds each operation stays `running` (overrides --op-delay)
      "rules": [                         # first matching rule whose draw fires wins
        {"method": "POST",               # optional; "*" or absent = any method
         "path": "/api/v2/projects/*/snapshots/*/restore",   # fnmatch glob; `*` also spans `/`
         "status": 423,                  # 423, 429, 503 (or any 4xx/5xx); absent = latency only
         "rate": 0.5,                    # probability per matching request (default 1.0)
         "times": 2,                     # inject at most this many times (default unlimited)
         "latency": 0.3,                 # extra seconds for matching requests
         "retry_after": 1}               # adds a Retry-After header (seconds)
      ],
      "fail_operations": {"create_branch": 1.0},  # action -> probability the operation ends in `error`
      "rate_limit": {"per_minute": 700,           # Neon's limits (neon-api.md §1): requests a minute for
                     "per_route_per_second": 40}, # the key, a second per route; beyond them 429 + Retry-After
      "snapshot_cap": 100                         # manual snapshots a project may hold (the plan's limit:
    }                                             # 1 Free, 100 paid); one more is refused with 422

`--fault` takes one rule in short form: `[METHOD] PATH [status=N] [rate=R] [times=N] [latency=S]
[retry_after=S]`, e.g. `--fault "POST /api/v2/projects/*/branches status=423 times=2"`, and
`--fail-operation ACTION[=RATE]` adds to `fail_operations`, and
`--rate-limit PER_MINUTE[:PER_ROUTE_PER_SECOND]` sets `rate_limit` (e.g. `--rate-limit 700:40`, Neon's
documented limits; 0 = no limit of that kind), `--snapshot-cap N` sets `snapshot_cap` (0 = none, the
default). Without it requests are never limited: tests and benchmarks
burst far past Neon's limits on purpose. Answers refused by the limit do not count against it.
"""

from __future__ import annotations

import fnmatch
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ERROR_MESSAGES = {
    423: "project already has running conflicting operations, scheduling of new ones is prohibited",
    429: "rate limit exceeded",
    503: "service temporarily unavailable",
}


class FaultConfigError(ValueError):
    """An invalid fault configuration; the message names the field."""


@dataclass(frozen=True)
class FaultRule:
    path: str
    method: str = "*"
    status: int | None = None
    rate: float = 1.0
    times: int | None = None
    latency: float = 0.0
    retry_after: float | None = None

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method.upper()) and fnmatch.fnmatchcase(path, self.path)


@dataclass(frozen=True)
class RateLimit:
    per_minute: int = 0  # API requests a minute for the key; 0: unlimited
    per_route_per_second: int = 0  # API requests a second per route (method + path template); 0: unlimited


@dataclass(frozen=True)
class FaultConfig:
    seed: int | None = None
    latency: float = 0.0
    operation_delay: float | None = None
    rules: tuple[FaultRule, ...] = ()
    fail_operations: dict[str, float] = field(default_factory=dict)
    rate_limit: RateLimit = RateLimit()
    snapshot_cap: int = 0  # manual snapshots per project; 0: no cap

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "latency": self.latency,
            "operation_delay": self.operation_delay,
            "rules": [{k: v for k, v in vars(rule).items() if v is not None} for rule in self.rules],
            "fail_operations": dict(self.fail_operations),
            "rate_limit": vars(self.rate_limit),
            "snapshot_cap": self.snapshot_cap,
        }


@dataclass(frozen=True)
class Decision:
    delay: float = 0.0
    status: int | None = None
    retry_after: float | None = None

    @property
    def body(self) -> dict[str, str]:
        return {"code": "", "message": ERROR_MESSAGES.get(self.status or 0, "injected failure")}


def _num(raw: dict[str, Any], key: str, where: str, default: float | None) -> float | None:
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultConfigError(f"{where}.{key}: must be a non-negative number")
    return float(value)


def _rate(raw: dict[str, Any], key: str, where: str) -> float:
    value = _num(raw, key, where, 1.0)
    assert value is not None
    if value > 1:
        raise FaultConfigError(f"{where}.{key}: must be between 0 and 1")
    return value


def parse_rule(raw: Any, where: str = "rules[]") -> FaultRule:
    if not isinstance(raw, dict):
        raise FaultConfigError(f"{where}: must be an object")
    unknown = set(raw) - {"method", "path", "status", "rate", "times", "latency", "retry_after"}
    if unknown:
        raise FaultConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    path = raw.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise FaultConfigError(f"{where}.path: must be a path glob starting with /")
    method = raw.get("method", "*")
    if not isinstance(method, str):
        raise FaultConfigError(f"{where}.method: must be a string")
    status = raw.get("status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 400 <= status < 600
    ):
        raise FaultConfigError(f"{where}.status: must be an HTTP error status (400-599)")
    times = raw.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
        raise FaultConfigError(f"{where}.times: must be a non-negative integer")
    return FaultRule(
        path=path,
        method=method.upper(),
        status=status,
        rate=_rate(raw, "rate", where),
        times=times,
        latency=_num(raw, "latency", where, 0.0) or 0.0,
        retry_after=_num(raw, "retry_after", where, None),
    )


def parse_config(raw: Any) -> FaultConfig:
    if not isinstance(raw, dict):
        raise FaultConfigError("faults: must be a JSON object")
    known = {"seed", "latency", "operation_delay", "rules", "fail_operations", "rate_limit", "snapshot_cap"}
    unknown = set(raw) - known
    if unknown:
        raise FaultConfigError(f"faults: unknown field(s) {', '.join(sorted(unknown))}")
    seed = raw.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise FaultConfigError("seed: must be an integer")
    rules = raw.get("rules", [])
    if not isinstance(rules, list):
        raise FaultConfigError("rules: must be a list")
    fail = raw.get("fail_operations", {})
    if not isinstance(fail, dict):
        raise FaultConfigError("fail_operations: must be an object of action -> rate")
    return FaultConfig(
        seed=seed,
        latency=_num(raw, "latency", "faults", 0.0) or 0.0,
        operation_delay=_num(raw, "operation_delay", "faults", None),
        rules=tuple(parse_rule(r, f"rules[{i}]") for i, r in enumerate(rules)),
        fail_operations={str(k): _rate(fail, k, "fail_operations") for k in fail},
        rate_limit=parse_rate_limit(raw.get("rate_limit", {})),
        snapshot_cap=parse_snapshot_cap(raw.get("snapshot_cap", 0)),
    )


def parse_snapshot_cap(value: Any, where: str = "snapshot_cap") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultConfigError(f"{where}: must be a non-negative integer")
    return value


def parse_rate_limit(raw: Any, where: str = "rate_limit") -> RateLimit:
    if not isinstance(raw, dict):
        raise FaultConfigError(f"{where}: must be an object")
    unknown = set(raw) - {"per_minute", "per_route_per_second"}
    if unknown:
        raise FaultConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    counts = {}
    for key in ("per_minute", "per_route_per_second"):
        value = raw.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FaultConfigError(f"{where}.{key}: must be a non-negative integer")
        counts[key] = value
    return RateLimit(**counts)


def parse_rate_limit_flag(text: str) -> RateLimit:
    """`PER_MINUTE[:PER_ROUTE_PER_SECOND]` (the --rate-limit flag)."""
    minute, _, route = text.partition(":")
    if not minute.isdigit() or (route and not route.isdigit()):
        raise FaultConfigError(
            f"--rate-limit {text!r}: expected PER_MINUTE[:PER_ROUTE_PER_SECOND], e.g. 700:40"
        )
    return RateLimit(int(minute), int(route or 0))


def parse_rule_flag(text: str) -> FaultRule:
    """`[METHOD] PATH key=value ...` -> rule (the --fault flag)."""
    raw: dict[str, Any] = {}
    for token in text.split():
        if "=" in token:
            key, _, value = token.partition("=")
            try:
                raw[key] = int(value) if value.isdigit() else float(value)
            except ValueError:
                raise FaultConfigError(f"--fault {text!r}: {key} must be a number") from None
        elif token.startswith("/"):
            raw["path"] = token
        else:
            raw["method"] = token
    return parse_rule(raw, f"--fault {text!r}")


def parse_fail_flag(text: str) -> tuple[str, float]:
    action, _, rate = text.partition("=")
    try:
        value = float(rate) if rate else 1.0
    except ValueError:
        raise FaultConfigError(f"--fail-operation {text!r}: rate must be a number") from None
    if not action or not 0 <= value <= 1:
        raise FaultConfigError(f"--fail-operation {text!r}: expected ACTION[=RATE] with RATE in [0, 1]")
    return action, value


class RateWindows:
    """The requests admitted in the last minute, and in the last second per route (monotonic seconds)."""

    def __init__(self) -> None:
        self.minute: deque[float] = deque()
        self.routes: dict[str, deque[float]] = {}

    def admit(self, limit: RateLimit, route: str, now: float) -> float | None:
        """None: admitted and counted; else the seconds until a request would be."""
        for window, span in ((self.minute, 60.0), *((q, 1.0) for q in self.routes.values())):
            while window and window[0] <= now - span:
                window.popleft()
        per_route = self.routes.setdefault(route, deque())
        if limit.per_minute and len(self.minute) >= limit.per_minute:
            return self.minute[0] + 60.0 - now
        if limit.per_route_per_second and len(per_route) >= limit.per_route_per_second:
            return per_route[0] + 1.0 - now
        self.minute.append(now)
        per_route.append(now)
        return None


class FaultInjector:
    """Stateful side of a `FaultConfig`: the seeded draws, the per-rule injection counts, the rate windows."""

    def __init__(
        self, config: FaultConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._fired = [0] * len(config.rules)
        self._windows = RateWindows()

    def decide(self, method: str, path: str, route: str | None = None) -> Decision:
        """What to do with an API request: `path` for the rules, `route` (its template) for the rate limit."""
        delay = self.config.latency
        limit = self.config.rate_limit
        if limit.per_minute or limit.per_route_per_second:
            wait = self._windows.admit(limit, f"{method.upper()} {route or path}", self._clock())
            if wait is not None:
                return Decision(delay, 429, float(max(1, math.ceil(wait))))
        for index, rule in enumerate(self.config.rules):
            if not rule.matches(method, path):
                continue
            delay += rule.latency
            if rule.status is None:
                continue
            if rule.times is not None and self._fired[index] >= rule.times:
                continue
            if rule.rate >= 1.0 or self._rng.random() < rule.rate:
                self._fired[index] += 1
                return Decision(delay, rule.status, rule.retry_after)
        return Decision(delay)

    def operation_fails(self, action: str) -> bool:
        rate = self.config.fail_operations.get(action, 0.0)
        return rate >= 1.0 or (rate > 0 and self._rng.random() < rate)
