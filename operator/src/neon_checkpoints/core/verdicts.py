"""A verdict on a failure: retry later (with a delay) or fail now, with the reason and message that go
into the resource's status and an Event (pure; runtime/errors.py turns exceptions into verdicts)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    retry: bool
    reason: str
    message: str
    delay: float = 0.0
