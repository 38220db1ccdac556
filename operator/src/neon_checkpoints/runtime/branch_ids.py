"""The id of a project's branch by name, remembered between checkpoints (one `GET /branches` saved each).

A finalized restore gives the restored branch a new id (neon-api.md §6.2) while the old id lives on as
`<name> (old)`, so a stale id would snapshot the wrong branch without any error. An entry therefore holds
only while the project's restore stamp in the meta database is unchanged (every operator sharing that
database records its restores there, before and after the POST), for at most `ttl` seconds (restores done
outside the operator, e.g. in the Neon console), and until a POST with it answers 404."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from neon_api.models import Branch


@dataclass(frozen=True)
class _Entry:
    branch: Branch
    stamp: str
    at: float


class BranchIds:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[str, str | None], _Entry] = {}

    def get(self, project_id: str, name: str | None, stamp: str) -> Branch | None:
        """The remembered branch `name` (None: the default branch), if still trustworthy."""
        entry = self._entries.get((project_id, name))
        if entry is None or entry.stamp != stamp or self._clock() - entry.at >= self.ttl:
            return None
        return entry.branch

    def put(self, project_id: str, name: str | None, branch: Branch, stamp: str) -> None:
        if self.ttl > 0:
            self._entries[(project_id, name)] = _Entry(branch, stamp, self._clock())

    def forget(self, project_id: str) -> None:
        for key in [k for k in self._entries if k[0] == project_id]:
            del self._entries[key]
