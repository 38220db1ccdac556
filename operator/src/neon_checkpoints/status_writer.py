"""Writes a resource's status at once (not when the handler returns), so facts such as a snapshot id are
stored before a long wait, and posts one Kubernetes Event per phase transition."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import kopf

from neon_checkpoints.checkpoint_plan import Phase, Step, next_phase, ready_condition_status
from neon_checkpoints.conditions import set_condition
from neon_checkpoints.kube import Kube


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StatusWriter:
    def __init__(
        self, kube: Kube, plural: str, body: kopf.Body, *, clock: Callable[[], dt.datetime] = _now
    ) -> None:
        self._kube = kube
        self._plural = plural
        self._body = body
        self._clock = clock
        status = body.get("status") or {}
        self.status: dict[str, Any] = {k: v for k, v in status.items() if k != "kopf"}
        phase = self.status.get("phase")
        self.phase: Phase | None = Phase(phase) if phase else None

    async def record(self, step: Step, reason: str, message: str, **fields: Any) -> Phase:
        previous = self.phase
        phase = next_phase(previous, step)
        generation = self._body.metadata.get("generation")
        conditions = set_condition(
            self.status.get("conditions") or [],
            type="Ready",
            status=ready_condition_status(phase),
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
            self._plural, self._body.metadata.namespace or "", self._body.metadata.name or "", update
        )
        self.status.update(update)
        self.phase = phase
        if phase is not previous:
            kopf.event(
                self._body,
                type="Warning" if phase is Phase.FAILED else "Normal",
                reason=phase.value,
                message=message,
            )
        return phase

    def get(self, key: str) -> Any:
        return self.status.get(key)
