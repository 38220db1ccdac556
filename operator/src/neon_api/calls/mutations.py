"""Shared reading of mutating answers: `{<object>, operations}` and deletes that may find nothing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from neon_api.models import Mutation, Operation, operations_from_json
from neon_api.protocol import Exchange, Request, send
from neon_api.wire import OperationJSON

T = TypeVar("T")


def mutation(request: Request, key: str, parse: Callable[[Any], T]) -> Exchange[Mutation[T]]:
    """Send `request`; the answer is `{key: <object>, operations: [...]}`."""
    response = yield from send(request)
    body = cast(Mapping[str, Any], response.json())
    return Mutation(parse(body[key]), _operations(body))


def deletion(request: Request) -> Exchange[tuple[Operation, ...]]:
    """Operations of a DELETE; none when the object was already gone (204, or 404 when allowed)."""
    response = yield from send(request)
    if response.status in (204, 404):
        return ()
    return _operations(cast(Mapping[str, Any], response.json()))


def operations(request: Request) -> Exchange[tuple[Operation, ...]]:
    """Send `request`; the answer is `{operations: [...]}`."""
    response = yield from send(request)
    return _operations(cast(Mapping[str, Any], response.json()))


def _operations(body: Mapping[str, Any]) -> tuple[Operation, ...]:
    return operations_from_json(cast("list[OperationJSON] | None", body.get("operations")))
