"""Kubernetes-style status conditions (pure): set one condition, keeping lastTransitionTime unless the
condition's status actually changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from neon_checkpoints.core.times import rfc3339


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
