"""The operator's settings: one frozen object built from the environment by a pure function, for every
kind (checkpoints, restores, schedules, expiry, `(old)`-branch pruning).

Every problem is collected and reported at once, so a misconfigured Deployment fails with one complete
message instead of one fix-and-retry cycle per variable. Secrets never appear in the repr.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from neon_checkpoints.core.secrets import redact_dsn
from neon_checkpoints.core.tenancy import TENANCY_MODES, TenancyMode

DEFAULT_NEON_API_URL = "https://console.neon.tech/api/v2"
CRASH_POINTS = frozenset({"snapshot-accepted", "restore-accepted"})
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
RESYNC = "NEON_CHECKPOINTS_SCHEDULE_RESYNC"
KEEP_OLD_BRANCHES = "NEON_CHECKPOINTS_KEEP_OLD_BRANCHES"
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
    # Which projects each namespace may use (core/tenancy.py): `enforced` needs the Namespace's annotations,
    # `open` (single-tenant) lets any namespace use any project with the default key.
    tenancy: TenancyMode = "enforced"
    # Test-only: exit abruptly at this point of a flow (see crash.py).
    crash_after: str | None = None

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
            f"tenancy={self.tenancy!r}, crash_after={self.crash_after!r})"
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

        tenancy = text(TENANCY, "enforced") or "enforced"
        if tenancy not in TENANCY_MODES:
            problems.append(f"{TENANCY} must be one of {', '.join(TENANCY_MODES)}, got {tenancy!r}")

        crash_after = text("NEON_CHECKPOINTS_CRASH_AFTER")
        if crash_after is not None and crash_after not in CRASH_POINTS:
            problems.append(
                f"NEON_CHECKPOINTS_CRASH_AFTER must be one of {', '.join(sorted(CRASH_POINTS))}, "
                f"got {crash_after!r}"
            )

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
            tenancy="open" if tenancy == "open" else "enforced",
            crash_after=crash_after,
        )

    @property
    def logging_level(self) -> int:
        return int(logging.getLevelName(self.log_level))
