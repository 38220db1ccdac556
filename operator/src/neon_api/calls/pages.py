"""Following Neon's two pagination styles (neon-api.md §1)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from neon_api.protocol import Exchange, Request, send
from neon_api.wire import PaginationJSON

T = TypeVar("T")

# Guards against a server that keeps handing out cursors: no real project has this many pages of anything.
MAX_PAGES = 10_000


def collect(
    first: Request,
    key: str,
    parse: Callable[[Any], T],
    *,
    limit: int,
) -> Exchange[list[T]]:
    """All items under `key`, following `pagination.next` (opaque) or `pagination.cursor` (timestamp).

    The timestamp style returns a cursor on every page, so a short page ends the listing; the opaque style
    ends when `next` is absent. A cursor seen twice also ends it (a server bug must not loop forever).
    """
    items: list[T] = []
    params = {**first.params, "limit": str(limit)}
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        response = yield from send(Request(first.method, first.path, params))
        body = cast(Mapping[str, Any], response.json())
        page = body[key]
        items.extend(parse(item) for item in page)
        pagination = cast(PaginationJSON, body.get("pagination") or {})
        if "next" in pagination:
            cursor = pagination.get("next")
        else:
            cursor = pagination.get("cursor") if len(page) >= limit else None
        if not cursor or not page or cursor in seen:
            break
        seen.add(cursor)
        params = {**first.params, "limit": str(limit), "cursor": cursor}
    return items
