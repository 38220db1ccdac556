"""Writes a CheckpointRestore's status at once and posts one Event per phase transition.

The Checkpoint's StatusWriter is bound to the Checkpoint phases and its `Ready` condition; a restore is a
one-shot request whose condition is `Succeeded` (Unknown while under way), so it has this small writer of
its own over the same pieces (`set_condition`, `Kube.patch_status`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import kopf

from neon_checkpoints.conditions import set_condition
from neon_checkpoints.kube import Kube
from neon_checkpoints.resources import CHECKPOINT_RESTORES
from neon_checkpoints.restore_plan import RestorePhase, RestoreStep, condition_status, next_phase

CONDITION = "Succeeded"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def precise_time(moment: dt.datetime) -> str:
    """RFC 3339 with milliseconds: restore durations are often well under a second."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RestoreStatusWriter:
    def __init__(self, kube: Kube, body: kopf.Body, *, clock: Callable[[], dt.datetime] = _now) -> None:
        self._kube = kube
        self._body = body
        self._clock = clock
        status = body.get("status") or {}
        self.status: dict[str, Any] = {k: v for k, v in status.items() if k != "kopf"}
        phase = self.status.get("phase")
        self.phase: RestorePhase | None = RestorePhase(phase) if phase else None

    async def record(self, step: RestoreStep, reason: str, message: str, **fields: Any) -> RestorePhase:
        previous = self.phase
        phase = next_phase(previous, step)
        generation = self._body.metadata.get("generation")
        conditions = set_condition(
            self.status.get("conditions") or [],
            type=CONDITION,
            status=condition_status(phase),
            reason=reason,
            message=message,
            observed_generation=generation,
            now=self._clock(),
        )
        update: dict[str, Any] = {
            **fields,
            "phase": phase.value,
            "message": message,
            "observedGeneration": generation,
            "conditions": conditions,
        }
        await self._kube.patch_status(
            CHECKPOINT_RESTORES,
            self._body.metadata.namespace or "",
            self._body.metadata.name or "",
            update,
        )
        self.status.update(update)
        self.phase = phase
        if phase is not previous:
            kopf.event(
                self._body,
                type="Warning" if phase is RestorePhase.FAILED else "Normal",
                reason=phase.value,
                message=message,
            )
        return phase

    def get(self, key: str) -> Any:
        return self.status.get(key)
