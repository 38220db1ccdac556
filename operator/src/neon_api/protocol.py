"""Sans-I/O core shared by the sync and async clients.

Every API call is written once as a generator (an `Exchange`): it yields `Step`s (requests to send, after
an optional delay) and receives `Replies` (the responses plus a monotonic timestamp), then returns its parsed
result. The clients only drive the generator: sleep, send, retry, feed replies back. Pagination, exact-name
lookups and the operation waiter are therefore plain code here, identical for both clients.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar, cast
from urllib.parse import quote

from neon_api.errors import NeonRequestError, NeonStatusError, UnexpectedResponse, error_class
from neon_api.retry import parse_retry_after
from neon_api.wire import ErrorJSON

T = TypeVar("T")

logger = logging.getLogger("neon_api")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    json: Mapping[str, Any] | None = None
    # Statuses handed to the parser instead of raised, e.g. 404 for "delete: already gone".
    allow: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Response:
    request: Request
    status: int
    headers: Mapping[str, str]
    content: bytes = field(repr=False)

    def json(self) -> Any:
        if not self.content.strip():
            return {}
        try:
            return json.loads(self.content)
        except ValueError as exc:
            raise UnexpectedResponse(
                self.request.method, self.request.path, self.status, "body is not JSON"
            ) from exc

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Step:
    """Send `requests` (concurrently where the client can) after sleeping `delay` seconds."""

    requests: tuple[Request, ...]
    delay: float = 0.0


@dataclass(frozen=True)
class Replies:
    responses: tuple[Response, ...]
    now: float  # the client's monotonic clock after the responses arrived


@dataclass(frozen=True)
class Done(Generic[T]):
    value: T


Exchange = Generator[Step, Replies, T]


def path(*segments: str) -> str:
    """`/projects/{pid}/...` with every segment percent-quoted (database and role names are free text)."""
    return "".join("/" + quote(segment, safe="") for segment in segments)


def compact(**fields: Any) -> dict[str, Any]:
    """The given fields minus those left as None (Neon applies its defaults to absent fields)."""
    return {key: value for key, value in fields.items() if value is not None}


def send(request: Request) -> Generator[Step, Replies, Response]:
    """Sub-exchange for one request: `response = yield from send(request)`."""
    replies = yield Step((request,))
    return replies.responses[0]


def clock() -> Generator[Step, Replies, float]:
    """Sub-exchange reading the client's monotonic clock (an empty step)."""
    replies = yield Step(())
    return replies.now


def advance(exchange: Exchange[T], replies: Replies | None) -> Step | Done[T]:
    """Run the exchange to its next step; a body not of the documented shape is UnexpectedResponse."""
    last = replies.responses[-1] if replies and replies.responses else None
    try:
        step = exchange.send(replies) if replies is not None else next(exchange)
    except StopIteration as stop:
        return Done(cast(T, stop.value))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if last is None:
            raise
        reason = f"{type(exc).__name__}: {exc}"
        raise UnexpectedResponse(last.request.method, last.request.path, last.status, reason) from exc
    return step


def receive(
    request: Request,
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    now: datetime | None = None,
) -> Response:
    """Turn an HTTP answer into a `Response`, log it, and raise the mapped error for a non-2xx status."""
    response = Response(request, status, {k.lower(): v for k, v in headers.items()}, content)
    _log(response)
    if response.ok or status in request.allow:
        return response
    raise status_error(response, now=now)


def status_error(response: Response, *, now: datetime | None = None) -> NeonStatusError:
    body: ErrorJSON = {}
    try:
        parsed = json.loads(response.content) if response.content.strip() else {}
        if isinstance(parsed, dict):
            body = cast(ErrorJSON, parsed)
    except ValueError:
        pass
    # Non-JSON bodies (e.g. a Cloudflare 524 page) are not echoed: they can be large and say nothing useful.
    message = str(body.get("message") or _reason(response.status))
    request_id = body.get("request_id") or response.headers.get("x-request-id")
    return error_class(response.status)(
        response.status,
        str(body.get("code") or ""),
        message,
        request_id,
        method=response.request.method,
        path=response.request.path,
        retry_after=parse_retry_after(response.headers.get("retry-after"), now),
    )


def transport_error(request: Request, exc: Exception) -> NeonRequestError:
    reason = str(exc) or type(exc).__name__
    logger.warning("%s %s -> %s", request.method, request.path, type(exc).__name__)
    return NeonRequestError(request.method, request.path, reason)


def _log(response: Response) -> None:
    request = response.request
    operation_ids = _operation_ids(response) if response.ok else ()
    if operation_ids:
        logger.info(
            "%s %s -> %s operations=%s",
            request.method,
            request.path,
            response.status,
            ",".join(operation_ids),
        )
    else:
        logger.info("%s %s -> %s", request.method, request.path, response.status)


def _operation_ids(response: Response) -> tuple[str, ...]:
    try:
        body = json.loads(response.content) if response.content.strip() else None
    except ValueError:
        return ()
    if not isinstance(body, dict):
        return ()
    ops = body.get("operations")
    if isinstance(ops, list):
        return tuple(str(op["id"]) for op in ops if isinstance(op, dict) and "id" in op)
    op = body.get("operation")
    if isinstance(op, dict) and "id" in op:
        return (str(op["id"]),)
    return ()


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
    422: "Unprocessable Entity",
    423: "Locked",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _reason(status: int) -> str:
    return _REASONS.get(status, f"HTTP {status}")
