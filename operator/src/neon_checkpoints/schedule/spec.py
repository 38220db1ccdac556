"""A CheckpointSchedule's spec as a frozen value, parsed once (pure, no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from neon_checkpoints.checkpoint.spec import CheckpointSpec
from neon_checkpoints.core.durations import DurationError, parse_duration
from neon_checkpoints.core.errors import InvalidSpec
from neon_checkpoints.schedule.cron import CronError, Every, Trigger, parse_cron

# Neon keeps at most 100 manual snapshots per project on paid plans (neon-api.md).
KEEP_LAST_MAX = 100
KEEP_HOURLY_MAX = 24 * 7
KEEP_DAILY_MAX = 366
MAX_SNAPSHOTS_MAX = 10_000
_TEMPLATE_FIELDS = ("projectId", "branch", "source", "deletionPolicy", "ttl", "credentialsSecretRef")


class InvalidSchedule(InvalidSpec):
    """The spec cannot be scheduled (the CRD rejects most of these first); the message names the field."""


@dataclass(frozen=True)
class Retention:
    keep_last: int | None = None
    max_age: dt.timedelta | None = None
    keep_hourly: int | None = None
    keep_daily: int | None = None
    # The project's manual-snapshot cap this schedule keeps under (Neon: 1 Free, 100 paid).
    max_snapshots: int | None = None

    @property
    def tiered(self) -> bool:
        return any(n is not None for n in (self.keep_last, self.keep_hourly, self.keep_daily))


def _count(retention: Mapping[str, Any], key: str, maximum: int) -> int | None:
    value = retention.get(key)
    if value is not None and (
        not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum
    ):
        raise InvalidSchedule(f"spec.retention.{key} must be from 1 to {maximum}, got {value!r}")
    return value


@dataclass(frozen=True)
class ScheduleSpec:
    trigger: Trigger
    # Copied verbatim into each Checkpoint's spec.
    template: Mapping[str, Any]
    retention: Retention
    suspend: bool = False

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> ScheduleSpec:
        cron, every = spec.get("schedule"), spec.get("every")
        if bool(cron) == bool(every):
            raise InvalidSchedule("set exactly one of spec.schedule and spec.every")
        try:
            trigger: Trigger = parse_cron(str(cron)) if cron else Every(parse_duration(str(every)))
        except (CronError, DurationError) as exc:
            raise InvalidSchedule(f"spec.{'schedule' if cron else 'every'}: {exc}") from None
        template = spec.get("checkpointTemplate") or {}
        template_spec = template.get("spec") if isinstance(template, Mapping) else None
        if not isinstance(template_spec, Mapping) or not template_spec.get("projectId"):
            raise InvalidSchedule("spec.checkpointTemplate.spec.projectId is required")
        try:
            # Each run's Checkpoint gets this spec: refuse it here rather than fail every run.
            CheckpointSpec.from_dict(template_spec)
        except InvalidSpec as exc:
            raise InvalidSchedule(str(exc).replace("spec.", "spec.checkpointTemplate.spec.", 1)) from None
        retention = spec.get("retention") or {}
        if not isinstance(retention, Mapping):
            raise InvalidSchedule("spec.retention must be an object")
        counts = {
            key: _count(retention, key, maximum)
            for key, maximum in (
                ("keepLast", KEEP_LAST_MAX),
                ("keepHourly", KEEP_HOURLY_MAX),
                ("keepDaily", KEEP_DAILY_MAX),
                ("maxSnapshotsPerProject", MAX_SNAPSHOTS_MAX),
            )
        }
        try:
            max_age = parse_duration(retention["maxAge"]) if retention.get("maxAge") else None
        except DurationError as exc:
            raise InvalidSchedule(f"spec.retention.maxAge: {exc}") from None
        return cls(
            trigger=trigger,
            template={k: template_spec[k] for k in _TEMPLATE_FIELDS if k in template_spec},
            retention=Retention(
                counts["keepLast"],
                max_age,
                counts["keepHourly"],
                counts["keepDaily"],
                counts["maxSnapshotsPerProject"],
            ),
            suspend=bool(spec.get("suspend", False)),
        )
