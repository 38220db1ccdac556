"""Writes a resource's status at once (not when the handler returns), so facts such as a snapshot id are
stored before a long wait, and posts one Kubernetes Event per phase transition.

One writer serves every kind; what differs is a kind's `PhaseRules`: its phases, their pure transition
function, and the condition that summarizes them (`Ready` for a Checkpoint, `Succeeded` for a restore)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

import kopf

from neon_checkpoints.core.conditions import set_condition
from neon_checkpoints.core.times import utcnow
from neon_checkpoints.runtime.kube import Kube

P = TypeVar("P", bound=StrEnum)
S = TypeVar("S")


@dataclass(frozen=True)
class PhaseRules(Generic[P, S]):
    phases: type[P]
    next_phase: Callable[[P | None, S], P]
    condition: str
    condition_status: Callable[[P], str]
    failed: P  # the phase whose Event is a Warning


class StatusWriter(Generic[P, S]):
    def __init__(
        self,
        kube: Kube,
        plural: str,
        body: kopf.Body,
        rules: PhaseRules[P, S],
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._kube = kube
        self._plural = plural
        self._body = body
        self._rules = rules
        self._clock = clock
        status = body.get("status") or {}
        self.status: dict[str, Any] = {k: v for k, v in status.items() if k != "kopf"}
        phase = self.status.get("phase")
        self.phase: P | None = rules.phases(phase) if phase else None

    async def record(self, step: S, reason: str, message: str, **fields: Any) -> P:
        previous = self.phase
        phase = self._rules.next_phase(previous, step)
        generation = self._body.metadata.get("generation")
        conditions = set_condition(
            self.status.get("conditions") or [],
            type=self._rules.condition,
            status=self._rules.condition_status(phase),
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
            self._kube.event(
                self._body,
                type="Warning" if phase is self._rules.failed else "Normal",
                reason=phase.value,
                message=message,
            )
        return phase

    async def note(self, **fields: Any) -> None:
        """Write `fields` alone: no phase, condition or Event (a marker such as `createPending`)."""
        await self._kube.patch_status(
            self._plural, self._body.metadata.namespace or "", self._body.metadata.name or "", fields
        )
        self.status.update(fields)

    def get(self, key: str) -> Any:
        return self.status.get(key)
