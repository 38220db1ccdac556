"""Backup schedules: Neon takes scheduled snapshots of a root branch (neon-api.md §6.1, §6.3). The emulator
validates and keeps a branch's schedule so clients can read it back; it takes no scheduled snapshots."""

from __future__ import annotations

from typing import Any

from .core import Model
from .errors import bad_request

FREQUENCIES = ("daily", "weekly", "monthly")
RETENTION_MIN, RETENTION_MAX = 3600, 3024000  # one hour .. 35 days
DEFAULT_RETENTION = RETENTION_MAX


def backup_schedule(model: Model, project_id: str, branch_id: str) -> list[dict[str, Any]]:
    return list(model.branch(project_id, branch_id).backup_schedule)


def set_backup_schedule(
    model: Model, project_id: str, branch_id: str, items: list[Any]
) -> list[dict[str, Any]]:
    """Replace the schedule (`[]` turns it off); 400 naming the field of the first bad item."""
    model.check_unlocked(project_id)
    branch = model.branch(project_id, branch_id)
    if items and branch.parent_id is not None:
        raise bad_request(f"backup schedules can only be set on root branches; {branch_id} is not one")
    schedule = [_item(raw, f"schedule[{i}]") for i, raw in enumerate(items)]
    branch.backup_schedule = schedule
    model.touch(branch)
    return list(schedule)


def _item(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request(f"{where}: must be an object")
    frequency = raw.get("frequency")
    if frequency not in FREQUENCIES:
        raise bad_request(f"{where}.frequency: required, one of {', '.join(FREQUENCIES)}")
    out: dict[str, Any] = {"frequency": frequency}
    hour = _int(raw, "hour", where, 0, 23)
    if hour is None:
        raise bad_request(f"{frequency} schedules must specify the hour of the day ({where}.hour)")
    out["hour"] = hour
    if frequency != "daily":
        day = _int(raw, "day", where, 1, 7 if frequency == "weekly" else 31)
        if day is None:
            raise bad_request(f"{frequency} schedules must specify the day ({where}.day)")
        out["day"] = day
    retention = _int(raw, "retention_seconds", where, RETENTION_MIN, RETENTION_MAX)
    out["retention_seconds"] = DEFAULT_RETENTION if retention is None else retention
    return out


def _int(raw: dict[str, Any], key: str, where: str, lo: int, hi: int) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise bad_request(f"{where}.{key}: must be an integer between {lo} and {hi}")
    return value
