"""What a client tells an observer about its traffic (metrics live with the caller: this package stays a
leaf). `route` is the path's template (`/projects/{project_id}/branches/{branch_id}`), never an id, so a
metric labelled by it stays bounded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

# A segment after one of these is an id or a name (free text for databases and roles).
_COLLECTIONS = {
    "projects": "{project_id}",
    "branches": "{branch_id}",
    "endpoints": "{endpoint_id}",
    "databases": "{database_name}",
    "roles": "{role_name}",
    "snapshots": "{snapshot_id}",
    "operations": "{operation_id}",
}


def route_template(path: str) -> str:
    """`/projects/p-1/branches/br-2/snapshot` -> `/projects/{project_id}/branches/{branch_id}/snapshot`."""
    segments = path.split("?", 1)[0].strip("/").split("/")
    out: list[str] = []
    for i, segment in enumerate(segments):
        previous = segments[i - 1] if i else ""
        out.append(_COLLECTIONS.get(previous, segment))
    return "/" + "/".join(out) if segments != [""] else "/"


class Observer(Protocol):
    def answered(self, method: str, route: str, status: int | None, seconds: float) -> None:
        """One attempt of a request ended: its HTTP status (None: no answer, a transport error)."""

    def retrying(self, method: str, route: str, status: int | None, delay: float) -> None:
        """An attempt failed retryably and is resent after `delay` seconds (status None: transport)."""

    def waited(self, actions: Sequence[str], seconds: float) -> None:
        """A wait for operations of these actions (sorted) ended after about `seconds`."""

    def budget_waited(self, seconds: float) -> None:
        """A request waited this long for its key's request budget (budget.py) before it was sent."""


class NullObserver:
    def answered(self, method: str, route: str, status: int | None, seconds: float) -> None:
        pass

    def retrying(self, method: str, route: str, status: int | None, delay: float) -> None:
        pass

    def waited(self, actions: Sequence[str], seconds: float) -> None:
        pass

    def budget_waited(self, seconds: float) -> None:
        pass


NULL_OBSERVER = NullObserver()
