"""Settings of the schedule, expiry and `(old)`-branch handlers, from the environment (pure).

Kept apart from `Settings` so those handlers can be configured and tested on their own; problems are
reported together, with the same error type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from neon_checkpoints.old_branches import SETTING as KEEP_OLD_BRANCHES
from neon_checkpoints.settings import SettingsError

RESYNC = "NEON_CHECKPOINTS_SCHEDULE_RESYNC"


@dataclass(frozen=True)
class ScheduleSettings:
    # Longest sleep of a schedule or expiry loop: how soon retention and expiries blocked by a restore are
    # looked at again (runs themselves are timed exactly; a schedule's spec edit wakes its loop at once).
    resync: float = 30.0
    # None: keep every `(old)` branch.
    keep_old_branches: int | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ScheduleSettings:
        problems: list[str] = []
        resync = cls.resync
        raw = environ.get(RESYNC, "").strip()
        if raw:
            try:
                resync = float(raw)
            except ValueError:
                problems.append(f"{RESYNC} must be a number of seconds, got {raw!r}")
            else:
                if resync < 0.1:
                    problems.append(f"{RESYNC} must be at least 0.1, got {raw!r}")
        keep: int | None = None
        raw = environ.get(KEEP_OLD_BRANCHES, "").strip()
        if raw:
            if raw.isdigit():
                keep = int(raw)
            else:
                problems.append(f"{KEEP_OLD_BRANCHES} must be a whole number >= 0, got {raw!r}")
        if problems:
            raise SettingsError(problems)
        return cls(resync=resync, keep_old_branches=keep)
