"""When to poll Neon operations: pure decisions, no sleeping here.

A plain backoff notices that an operation finished late by up to its current gap: around a hundred
milliseconds for operations that take a few hundred. The operator waits for the same kinds of operations over
and over (a snapshot's, a restore's), so `OperationPace` remembers how long each kind of wait took and plans
the polls of the next one at the quantiles of those durations: dense where such waits usually end, sparse
where they rarely do, none long before. Past the plan (a slow outlier), or before enough waits of a kind are
remembered, polls back off from tens of milliseconds. No gap between two polls exceeds the ceiling.

Durations are measured on the client's own clock, from the start of a wait to the middle of the last gap
(between the poll that still saw an operation running and the one that saw them all done), so they neither
depend on Neon's timestamps nor on the clock of the machine that runs Neon.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from neon_api.observe import NULL_OBSERVER, Observer

POLL_CEILING = 2.0  # seconds between polls of a long operation, by default
FIRST_GAP = 0.02  # tens of milliseconds: emulated and many real operations finish fast
GROWTH = 1.6
REMEMBERED = 20  # waits remembered per kind: recent enough to follow the load, enough for quantiles
MIN_REMEMBERED = 3  # fewer than this: plain backoff
QUANTILES = tuple(i / 10 for i in range(11))  # at most 11 planned polls per wait


def backoff(first: float = FIRST_GAP, ceiling: float = POLL_CEILING) -> Iterator[float]:
    """Gaps between polls: tens of milliseconds first, growing by GROWTH up to `ceiling`."""
    gap = min(first, ceiling)
    while True:
        yield gap
        gap = min(ceiling, gap * GROWTH)


def plan(durations: Sequence[float], *, min_gap: float = FIRST_GAP) -> tuple[float, ...]:
    """Poll moments (seconds into a wait) at the quantiles of earlier waits' durations, `min_gap` apart."""
    if len(durations) < MIN_REMEMBERED:
        return ()
    ordered = sorted(durations)
    moments: list[float] = []
    for q in QUANTILES:
        moment = ordered[round(q * (len(ordered) - 1))]
        if not moments or moment - moments[-1] >= min_gap:
            moments.append(moment)
    return tuple(moments)


@dataclass
class PollSchedule:
    """The gaps of one wait: the planned moments first, then backoff; never a gap above `ceiling`."""

    planned: tuple[float, ...] = ()
    ceiling: float = POLL_CEILING
    min_gap: float = FIRST_GAP
    _backoff: Iterator[float] | None = field(default=None, init=False, repr=False)

    def next_gap(self, elapsed: float) -> float:
        """Seconds to wait before the next poll, `elapsed` seconds into the wait."""
        for moment in self.planned:
            if moment >= elapsed + self.min_gap:
                return min(moment - elapsed, self.ceiling)
        if self._backoff is None:
            self._backoff = backoff(self.min_gap, self.ceiling)
        return next(self._backoff)


class OperationPace:
    """How long recent waits took, per kind (the sorted actions waited for); shared by every wait of a client
    or an operator. Without history, or with a `None` kind, a wait gets plain backoff."""

    def __init__(self, ceiling: float = POLL_CEILING, *, observer: Observer = NULL_OBSERVER) -> None:
        self.ceiling = ceiling
        self._observer = observer
        self._durations: dict[tuple[str, ...], deque[float]] = {}

    @staticmethod
    def kind(actions: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(actions))

    def schedule(self, kind: tuple[str, ...] | None) -> PollSchedule:
        remembered = self._durations.get(kind, ()) if kind is not None else ()
        return PollSchedule(plan(remembered), self.ceiling)

    def learn(self, kind: tuple[str, ...], still_running_at: float, done_at: float) -> None:
        """One wait of `kind` ended between these two moments (seconds into it): remember the middle."""
        history = self._durations.setdefault(kind, deque(maxlen=REMEMBERED))
        history.append((still_running_at + done_at) / 2)

    def waited(self, actions: Iterable[str], seconds: float) -> None:
        """Any wait that ended with its operations done (learned from or not): tell the observer."""
        self._observer.waited(self.kind(actions), seconds)

    def remembered(self, kind: tuple[str, ...]) -> tuple[float, ...]:
        return tuple(self._durations.get(kind, ()))
