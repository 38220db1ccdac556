"""Kubernetes-style status conditions (pure): set one condition, keeping lastTransitionTime unless the
condition's status actually changed; and kstatus' Reconciling/Stalled pair."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from neon_checkpoints.core.times import parse_time_or_none, rfc3339


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    *,
    type: str,
    status: str,
    reason: str,
    message: str,
    observed_generation: int | None,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    previous = next((c for c in conditions if c.get("type") == type), None)
    changed = previous is None or previous.get("status") != status
    condition: dict[str, Any] = {
        "type": type,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": rfc3339(now) if changed or previous is None else previous["lastTransitionTime"],
    }
    if observed_generation is not None:
        condition["observedGeneration"] = observed_generation
    others = [dict(c) for c in conditions if c.get("type") != type]
    return [*others, condition]


# kstatus' two abnormal-true conditions, written beside each kind's summary condition (Ready, Succeeded) on
# every status write. Other condition types (SchemaCaptured, WorkloadsRestored, ...) go through
# `set_condition` and are left as they are.
READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"


# Stalled reasons that say "late", not "blocked": they stay until the run is done (or blocked for real),
# so a resumed or overdue run keeps showing that it was.
LATE_REASONS = frozenset({"Interrupted", "OperationOverdue"})


class Progress(StrEnum):
    """Where a resource stands in kstatus' terms."""

    RECONCILING = "Reconciling"  # work under way (or waiting its turn); expected to finish on its own
    STALLED = "Stalled"  # given up, or blocked on something only a person (or time) can fix
    DONE = "Done"  # the desired state is reached: neither condition is true


def set_progress(
    conditions: Sequence[Mapping[str, Any]],
    progress: Progress,
    *,
    reason: str,
    message: str,
    observed_generation: int | None,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Reconciling and Stalled as kstatus reads them: the one that is true carries the reason and message;
    both are False once done. Stalled while reconciling is allowed (a step overdue, an interrupted run)."""
    reconciling = progress is Progress.RECONCILING
    stalled = progress is Progress.STALLED
    previous = find(conditions, STALLED)
    late = (
        previous is not None and previous.get("status") == "True" and previous.get("reason") in LATE_REASONS
    )
    updated = set_condition(
        conditions,
        type=RECONCILING,
        status="True" if reconciling else "False",
        reason=reason if reconciling else "Idle",
        message=message if reconciling else "",
        observed_generation=observed_generation,
        now=now,
    )
    if reconciling and late:
        return updated
    return set_condition(
        updated,
        type=STALLED,
        status="True" if stalled else "False",
        reason=reason if stalled else "Progressing" if reconciling else "Idle",
        message=message if stalled else "",
        observed_generation=observed_generation,
        now=now,
    )


def mark_stalled(
    conditions: Sequence[Mapping[str, Any]],
    *,
    reason: str,
    message: str,
    observed_generation: int | None,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Stalled True without touching Reconciling: the work goes on, but is late or was interrupted."""
    return set_condition(
        conditions,
        type=STALLED,
        status="True",
        reason=reason,
        message=message,
        observed_generation=observed_generation,
        now=now,
    )


def merge_conditions(
    current: Sequence[Mapping[str, Any]], changed: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """`changed` written over `current` by type, every other type kept as it is. Two writers of one
    resource's status (a flow and the schema capture daemon) each own some types; a status merge patch
    replaces the whole list, so each writes only its own types over what the server holds now."""
    mine = {c.get("type") for c in changed}
    return [*(dict(c) for c in current if c.get("type") not in mine), *(dict(c) for c in changed)]


def find(conditions: Sequence[Mapping[str, Any]], type: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type), None)


def true_since(conditions: Sequence[Mapping[str, Any]], type: str) -> dt.datetime | None:
    """When the condition became True, or None when it is not True."""
    condition = find(conditions, type)
    if condition is None or condition.get("status") != "True":
        return None
    return parse_time_or_none(condition.get("lastTransitionTime"))
