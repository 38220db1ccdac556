"""The database names of a branch, remembered between schema captures (one `GET .../databases` saved each).

Keyed by branch id (a finalized restore gives the branch a new id, so an entry never outlives one). A
database created since is missed until the entry ends after `ttl` seconds; one dropped since makes the
capture's schema request answer 404, which forgets the entry (the capture is retried and lists again)."""

from __future__ import annotations

import time
from collections.abc import Callable


class DatabaseNames:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[tuple[str, ...], float]] = {}

    def get(self, project_id: str, branch_id: str) -> tuple[str, ...] | None:
        entry = self._entries.get((project_id, branch_id))
        if entry is None or self._clock() - entry[1] >= self.ttl:
            return None
        return entry[0]

    def put(self, project_id: str, branch_id: str, names: tuple[str, ...]) -> None:
        if self.ttl > 0:
            self._entries[(project_id, branch_id)] = (names, self._clock())

    def forget(self, project_id: str, branch_id: str) -> None:
        self._entries.pop((project_id, branch_id), None)
