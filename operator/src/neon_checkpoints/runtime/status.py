"""Writes a resource's status at once (not when the handler returns), so facts such as a snapshot id are
stored before a long wait, and posts one Kubernetes Event per phase transition.

One writer serves every kind; what differs is a kind's `PhaseRules`: its phases, their pure transition
function, and the condition that summarizes them (`Ready` for a Checkpoint, `Succeeded` for a restore).
Every write also sets kstatus' `Reconciling`/`Stalled` pair (core/conditions.py) from the phase: its final
good phases are done, its failed phase is stalled, the rest reconciling, unless the caller says the step is
blocked. Other condition types go through `set_condition` on `status["conditions"]` and are kept."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

import kopf

from neon_checkpoints.core.conditions import (
    RECONCILING,
    STALLED,
    Progress,
    mark_stalled,
    set_condition,
    set_progress,
)
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
    failed: P  # the phase whose Event is a Warning (and which is kstatus-Stalled)
    done: tuple[P, ...] = ()  # phases where nothing is left to do (neither Reconciling nor Stalled)

    def progress(self, phase: P, *, blocked: bool = False) -> Progress:
        if phase in self.done:
            return Progress.DONE
        if phase is self.failed or blocked:
            return Progress.STALLED
        return Progress.RECONCILING


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
        self._noted: set[str] = set()

    async def record(self, step: S, reason: str, message: str, *, blocked: bool = False, **fields: Any) -> P:
        """Write the step's phase, message and conditions (and `fields`); `blocked`: a retried step that only
        a person can unblock (kstatus Stalled)."""
        previous = self.phase
        phase = self._rules.next_phase(previous, step)
        generation = self._body.metadata.get("generation")
        now = self._clock()
        conditions = set_condition(
            self.status.get("conditions") or [],
            type=self._rules.condition,
            status=self._rules.condition_status(phase),
            reason=reason,
            message=message,
            observed_generation=generation,
            now=now,
        )
        conditions = set_progress(
            conditions,
            self._rules.progress(phase, blocked=blocked),
            reason=reason,
            message=message,
            observed_generation=generation,
            now=now,
        )
        update: dict[str, Any] = {
            **fields,
            "phase": phase.value,
            "message": message,
            "observedGeneration": generation,
            "conditions": self._mine(conditions, self._rules.condition, RECONCILING, STALLED),
        }
        await self._write(update)
        self.phase = phase
        if phase is not previous:
            self._kube.event(
                self._body,
                type="Warning" if phase is self._rules.failed else "Normal",
                reason=phase.value,
                message=message,
            )
        return phase

    def note_condition(self, type: str, status: str, reason: str, message: str) -> None:
        """Set a condition other than the kind's summary one (e.g. WorkloadsRestored); it is written with
        the next `record`."""
        self.status["conditions"] = set_condition(
            self.status.get("conditions") or [],
            type=type,
            status=status,
            reason=reason,
            message=message,
            observed_generation=self._body.metadata.get("generation"),
            now=self._clock(),
        )
        self._noted.add(type)

    async def stall(self, reason: str, message: str) -> None:
        """Stalled True beside Reconciling (a step overdue, a run interrupted): the flow goes on."""
        conditions = mark_stalled(
            self.status.get("conditions") or [],
            reason=reason,
            message=message,
            observed_generation=self._body.metadata.get("generation"),
            now=self._clock(),
        )
        await self._write({"conditions": self._mine(conditions, STALLED)})
        self._kube.event(self._body, type="Warning", reason=reason, message=message)

    async def note(self, **fields: Any) -> None:
        """Write `fields` alone: no phase, condition or Event (a marker such as `createPending`)."""
        await self._kube.patch_status(
            self._plural, self._body.metadata.namespace or "", self._body.metadata.name or "", fields
        )
        self.status.update(fields)

    def _mine(self, conditions: list[dict[str, Any]], *types: str) -> list[dict[str, Any]]:
        """Only the condition types this write sets (and those noted since the last): another writer's
        (the schema capture daemon's SchemaCaptured) stay as the server has them."""
        wanted = {*types, *self._noted}
        return [c for c in conditions if c["type"] in wanted]

    async def _write(self, update: dict[str, Any]) -> None:
        meta = self._body.metadata
        written = await self._kube.patch_status(self._plural, meta.namespace or "", meta.name or "", update)
        self.status.update({**update, "conditions": written})
        self._noted.clear()

    def get(self, key: str) -> Any:
        return self.status.get(key)
