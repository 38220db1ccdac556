"""The operator's settings: one frozen object built from the environment by a pure function, for every
kind (checkpoints, restores, schedules, expiry, `(old)`-branch pruning).

Every problem is collected and reported at once, so a misconfigured Deployment fails with one complete
message instead of one fix-and-retry cycle per variable. Secrets never appear in the repr.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from neon_api.budget import NEON_LIMITS, BudgetLimits
from neon_checkpoints.core.secrets import redact_dsn
from neon_checkpoints.core.tenancy import TENANCY_MODES, TenancyMode

DEFAULT_NEON_API_URL = "https://console.neon.tech/api/v2"
CRASH_POINTS = frozenset(
    # The last three: a restore's workloads recorded (and quiesced), its database restored, one applied.
    {"snapshot-accepted", "restore-accepted", "workloads-prepared", "database-restored", "workload-applied"}
)
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
RESYNC = "NEON_CHECKPOINTS_SCHEDULE_RESYNC"
KEEP_OLD_BRANCHES = "NEON_CHECKPOINTS_KEEP_OLD_BRANCHES"
METRICS_PORT = "NEON_CHECKPOINTS_METRICS_PORT"
METRICS_ADDRESS = "NEON_CHECKPOINTS_METRICS_ADDRESS"
STALL_AFTER = "NEON_CHECKPOINTS_STALL_AFTER"
BUDGET_PER_MINUTE = "NEON_API_BUDGET_PER_MINUTE"
BUDGET_PER_ROUTE = "NEON_API_BUDGET_PER_ROUTE_PER_SECOND"
_NEON_HOSTS = (".neon.tech", ".neon.com")
NO_BUDGET = BudgetLimits()


def pod_priority(pod_name: str) -> int:
    """A replica's kopf peering priority from its pod name: distinct per pod (with overwhelming odds),
    so replicas of one Deployment never tie (a tie freezes every one of them)."""
    return int(hashlib.sha256(pod_name.encode()).hexdigest()[:7], 16) if pod_name else 0


def default_budget(api_url: str) -> BudgetLimits:
    """Neon's published limits when talking to Neon, none otherwise (the emulator, a proxy)."""
    host = urlsplit(api_url).hostname or ""
    return NEON_LIMITS if host.endswith(_NEON_HOSTS) else NO_BUDGET


TENANCY = "NEON_CHECKPOINTS_TENANCY"


class SettingsError(ValueError):
    """The environment does not describe a runnable operator; `problems` lists everything wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid operator settings:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Settings:
    neon_api_url: str
    neon_api_key: str = field(repr=False)
    meta_database_url: str = field(repr=False)
    # Empty: watch every namespace.
    watch_namespaces: tuple[str, ...] = ()
    log_level: str = "INFO"
    operation_timeout: float = 300.0
    # The longest gap between two polls of an operation (neon_api/pacing.py plans the rest).
    operation_poll_interval: float = 0.25
    # How long a flow waits (phase Queued) for another flow on the same Neon project before retrying later.
    project_lock_wait: float = 30.0
    meta_pool_size: int = 10
    # Longest sleep of a schedule or expiry loop: how soon retention and expiries blocked by a restore are
    # looked at again (runs themselves are timed exactly; a schedule's spec edit wakes its loop at once).
    resync: float = 30.0
    # Keep only the newest N `(old)` branches per project; None: keep every one.
    keep_old_branches: int | None = None
    # How long a checkpoint trusts a branch id it looked up by name (runtime/branch_ids.py); 0: never.
    branch_cache_ttl: float = 300.0
    # Seconds a branch's database names are trusted by schema captures without spec.databases.
    database_list_ttl: float = 60.0
    # Client-side request budget per API key (neon_api/budget.py); zeros: none.
    api_budget: BudgetLimits = NO_BUDGET
    # kopf peering (with `operator --peering`): the peering object's name, this replica's priority (the
    # highest live one is active, the others stand by; equal priorities would freeze all), and how long a
    # silent peer still counts as alive (the standby's takeover time after a kill -9).
    peering_name: str = "neon-checkpoints"
    peering_priority: int = 0
    peering_lifetime: int = 60
    # Which projects each namespace may use (core/tenancy.py): `enforced` needs the Namespace's annotations,
    # `open` (single-tenant) lets any namespace use any project with the default key.
    tenancy: TenancyMode = "enforced"
    # Test-only: exit abruptly at this point of a flow (see crash.py).
    crash_after: str | None = None
    # Serve Prometheus metrics on this port (0: any free port, logged); None: no metrics endpoint.
    metrics_port: int | None = None
    metrics_address: str = "0.0.0.0"
    # Reconciling longer than this, before waits of the kind were learned, shows as Stalled (runtime/flow.py).
    stall_after: float = 120.0

    @property
    def meta_database_display(self) -> str:
        return redact_dsn(self.meta_database_url)

    def __repr__(self) -> str:
        return (
            f"Settings(neon_api_url={self.neon_api_url!r}, neon_api_key=<hidden>, "
            f"meta_database_url={self.meta_database_display!r}, watch_namespaces={self.watch_namespaces!r}, "
            f"log_level={self.log_level!r}, operation_timeout={self.operation_timeout!r}, "
            f"project_lock_wait={self.project_lock_wait!r}, meta_pool_size={self.meta_pool_size!r}, "
            f"resync={self.resync!r}, keep_old_branches={self.keep_old_branches!r}, "
            f"branch_cache_ttl={self.branch_cache_ttl!r}, api_budget={self.api_budget!r}, "
            f"peering_name={self.peering_name!r}, peering_priority={self.peering_priority!r}, "
            f"peering_lifetime={self.peering_lifetime!r}, "
            f"tenancy={self.tenancy!r}, crash_after={self.crash_after!r}, "
            f"metrics_port={self.metrics_port!r}, "
            f"metrics_address={self.metrics_address!r}, stall_after={self.stall_after!r})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        problems: list[str] = []

        def text(name: str, default: str | None = None) -> str | None:
            value = environ.get(name, "").strip()
            return value or default

        def required(name: str, why: str) -> str:
            value = text(name)
            if value is None:
                problems.append(f"{name} is not set ({why})")
                return ""
            return value

        def number(name: str, default: float, *, minimum: float) -> float:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                problems.append(f"{name} must be a number, got {raw!r}")
                return default
            if value < minimum:
                problems.append(f"{name} must be at least {minimum:g}, got {raw!r}")
            return value

        api_url = text("NEON_API_URL", DEFAULT_NEON_API_URL) or DEFAULT_NEON_API_URL
        if urlsplit(api_url).scheme not in ("http", "https") or not urlsplit(api_url).netloc:
            problems.append(f"NEON_API_URL must be an http(s) URL, got {api_url!r}")
        api_key = required("NEON_API_KEY", "the default Neon API key")
        meta_url = required("META_DATABASE_URL", "PostgreSQL URL of the meta database")
        if meta_url and urlsplit(meta_url).scheme not in ("postgres", "postgresql"):
            # Do not echo the value: it may hold a password.
            problems.append("META_DATABASE_URL must be a postgresql:// URL")

        raw_namespaces = text("WATCH_NAMESPACES", "") or ""
        namespaces = tuple(ns.strip() for ns in raw_namespaces.split(",") if ns.strip())
        if namespaces == ("*",):
            namespaces = ()
        bad = [ns for ns in namespaces if not _NAMESPACE.match(ns)]
        if bad:
            problems.append(f"WATCH_NAMESPACES holds invalid namespace names: {', '.join(bad)}")

        log_level = (text("LOG_LEVEL", "INFO") or "INFO").upper()
        if log_level not in _LOG_LEVELS:
            problems.append(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, got {log_level!r}")

        operation_timeout = number("NEON_OPERATION_TIMEOUT", 300.0, minimum=1.0)
        operation_poll_interval = number("NEON_OPERATION_POLL_INTERVAL", 0.25, minimum=0.02)
        lock_wait = number("PROJECT_LOCK_WAIT", 30.0, minimum=0.0)
        pool_size = number("META_DATABASE_POOL_SIZE", 10, minimum=2)
        if pool_size != int(pool_size):
            problems.append(f"META_DATABASE_POOL_SIZE must be a whole number, got {pool_size:g}")

        resync = number(RESYNC, 30.0, minimum=0.1)
        keep_old: int | None = None
        raw_keep = text(KEEP_OLD_BRANCHES)
        if raw_keep is not None:
            if raw_keep.isdigit():
                keep_old = int(raw_keep)
            else:
                problems.append(f"{KEEP_OLD_BRANCHES} must be a whole number >= 0, got {raw_keep!r}")

        branch_cache_ttl = number("NEON_BRANCH_CACHE_TTL", 300.0, minimum=0.0)
        database_list_ttl = number("NEON_DATABASE_LIST_TTL", 60.0, minimum=0.0)
        budget = default_budget(api_url)
        per_minute = number(BUDGET_PER_MINUTE, budget.per_minute, minimum=0)
        per_route = number(BUDGET_PER_ROUTE, budget.per_route_per_second, minimum=0)
        for name, value in ((BUDGET_PER_MINUTE, per_minute), (BUDGET_PER_ROUTE, per_route)):
            if value != int(value):
                problems.append(f"{name} must be a whole number, got {value:g}")
        peering_name = text("PEERING_NAME", "neon-checkpoints") or "neon-checkpoints"
        if not _NAMESPACE.match(peering_name):
            problems.append(f"PEERING_NAME must be a DNS label, got {peering_name!r}")
        raw_priority = text("PEERING_PRIORITY")
        if raw_priority is None:
            priority = pod_priority(text("POD_NAME") or text("HOSTNAME") or "")
        elif raw_priority.lstrip("-").isdigit():
            priority = int(raw_priority)
        else:
            problems.append(f"PEERING_PRIORITY must be a whole number, got {raw_priority!r}")
            priority = 0
        lifetime = number("PEERING_LIFETIME", 60, minimum=2)

        tenancy = text(TENANCY, "enforced") or "enforced"
        if tenancy not in TENANCY_MODES:
            problems.append(f"{TENANCY} must be one of {', '.join(TENANCY_MODES)}, got {tenancy!r}")

        crash_after = text("NEON_CHECKPOINTS_CRASH_AFTER")
        if crash_after is not None and crash_after not in CRASH_POINTS:
            problems.append(
                f"NEON_CHECKPOINTS_CRASH_AFTER must be one of {', '.join(sorted(CRASH_POINTS))}, "
                f"got {crash_after!r}"
            )

        metrics_port: int | None = None
        raw_port = text(METRICS_PORT)
        if raw_port is not None:
            if raw_port.isdigit() and int(raw_port) <= 65535:
                metrics_port = int(raw_port)
            else:
                problems.append(f"{METRICS_PORT} must be a port number (0-65535), got {raw_port!r}")
        metrics_address = text(METRICS_ADDRESS, "0.0.0.0") or "0.0.0.0"
        stall_after = number(STALL_AFTER, 120.0, minimum=0.1)

        if problems:
            raise SettingsError(problems)
        return cls(
            neon_api_url=api_url,
            neon_api_key=api_key,
            meta_database_url=meta_url,
            watch_namespaces=namespaces,
            log_level=log_level,
            operation_timeout=operation_timeout,
            operation_poll_interval=operation_poll_interval,
            project_lock_wait=lock_wait,
            meta_pool_size=int(pool_size),
            resync=resync,
            keep_old_branches=keep_old,
            branch_cache_ttl=branch_cache_ttl,
            database_list_ttl=database_list_ttl,
            api_budget=BudgetLimits(int(per_minute), int(per_route)),
            peering_name=peering_name,
            peering_priority=priority,
            peering_lifetime=int(lifetime),
            tenancy="open" if tenancy == "open" else "enforced",
            crash_after=crash_after,
            metrics_port=metrics_port,
            metrics_address=metrics_address,
            stall_after=stall_after,
        )

    @property
    def logging_level(self) -> int:
        return int(logging.getLevelName(self.log_level))
