"""A CheckpointSchedule's spec as a frozen value, parsed once (pure, no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from neon_checkpoints.core.durations import DurationError, parse_duration
from neon_checkpoints.core.errors import InvalidSpec
from neon_checkpoints.schedule.cron import CronError, Every, Trigger, parse_cron

_TEMPLATE_FIELDS = ("projectId", "branch", "source", "deletionPolicy", "ttl", "credentialsSecretRef")


class InvalidSchedule(InvalidSpec):
    """The spec cannot be scheduled (the CRD rejects most of these first); the message names the field."""


@dataclass(frozen=True)
class Retention:
    keep_last: int | None = None
    max_age: dt.timedelta | None = None


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
        template_spec = dict(template.get("spec") or {})
        if not template_spec.get("projectId"):
            raise InvalidSchedule("spec.checkpointTemplate.spec.projectId is required")
        retention = spec.get("retention") or {}
        keep_last = retention.get("keepLast")
        if keep_last is not None and (not isinstance(keep_last, int) or keep_last < 1):
            raise InvalidSchedule(f"spec.retention.keepLast must be at least 1, got {keep_last!r}")
        try:
            max_age = parse_duration(retention["maxAge"]) if retention.get("maxAge") else None
        except DurationError as exc:
            raise InvalidSchedule(f"spec.retention.maxAge: {exc}") from None
        return cls(
            trigger=trigger,
            template={k: template_spec[k] for k in _TEMPLATE_FIELDS if k in template_spec},
            retention=Retention(keep_last, max_age),
            suspend=bool(spec.get("suspend", False)),
        )
