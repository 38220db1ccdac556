"""The one exception tree of the Neon API boundary.

    NeonError
    ├── NeonRequestError          transport failure or timeout (no HTTP status)
    ├── UnexpectedResponse        a 2xx body that is not the documented JSON shape
    ├── NeonStatusError           non-2xx answer: status, code, message, request_id
    │   ├── NeonClientError       4xx
    │   │   ├── BadRequest 400, Unauthorized 401/403, NotFound 404, Conflict 409,
    │   │   └── PreconditionFailed 412, Unprocessable 422, Locked 423, RateLimited 429
    │   └── NeonServerError       5xx
    │       └── ServiceUnavailable 503
    ├── OperationFailed           an operation ended in error/cancelled (or stayed failed)
    └── OperationTimeout          operations still running at the waiter's deadline

Messages carry Neon's message and request id, never request headers (the API key lives there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from neon_api.models import Operation

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NeonError(Exception):
    """Base of every error raised by `neon_api`."""

    @property
    def retryable(self) -> bool:
        """True when repeating the same request cannot do harm and may succeed."""
        return False


class NeonRequestError(NeonError):
    """The request did not get an HTTP answer (connection, protocol or timeout error)."""

    def __init__(self, method: str, path: str, reason: str) -> None:
        super().__init__(f"{method} {path} failed: {reason}")
        self.method = method
        self.path = path
        self.reason = reason

    @property
    def retryable(self) -> bool:
        # A POST may have been applied before the connection broke; only idempotent methods are resent.
        return self.method in _IDEMPOTENT_METHODS


class UnexpectedResponse(NeonError):
    """A successful answer whose body could not be parsed into the documented shape."""

    def __init__(self, method: str, path: str, status: int, reason: str) -> None:
        super().__init__(f"{method} {path} -> {status}: unexpected response body ({reason})")
        self.method = method
        self.path = path
        self.status = status


class NeonStatusError(NeonError):
    """Neon answered with a non-2xx status; `message`/`code`/`request_id` come from its error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None,
        *,
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.method = method
        self.path = path
        self.retry_after = retry_after
        where = f" [{method} {path}]" if method else ""
        rid = f" (request_id={request_id})" if request_id else ""
        code_part = f" {code}:" if code else ":"
        super().__init__(f"{status}{code_part} {message}{rid}{where}")


class NeonClientError(NeonStatusError):
    """4xx: the request is wrong for the current state; repeating it unchanged will not help (bar 423/429)."""


class BadRequest(NeonClientError):
    """400: validation failed."""


class Unauthorized(NeonClientError):
    """401/403: the API key is missing, invalid, or lacks permission."""


class NotFound(NeonClientError):
    """404: the project, branch, snapshot, ... does not exist."""


class Conflict(NeonClientError):
    """409: e.g. a branch, database or snapshot with that name already exists."""


class PreconditionFailed(NeonClientError):
    """412: e.g. reveal_password on a project that does not store passwords."""


class Unprocessable(NeonClientError):
    """422: e.g. "branch not ready yet"."""


class Locked(NeonClientError):
    """423: a conflicting operation is running on the project; Neon documents this as safe to retry."""

    @property
    def retryable(self) -> bool:
        return True


class RateLimited(NeonClientError):
    """429: too many requests; `retry_after` (seconds) is set when Neon sent a Retry-After header."""

    @property
    def retryable(self) -> bool:
        return True


class NeonServerError(NeonStatusError):
    """5xx: Neon failed; only 503 is documented as always safe to retry."""


class ServiceUnavailable(NeonServerError):
    """503: safe to retry for any method."""

    @property
    def retryable(self) -> bool:
        return True


class OperationFailed(NeonError):
    """An operation ended in `error` or `cancelled`, or was still `failed` when the waiter gave up."""

    def __init__(self, operation: Operation) -> None:
        detail = f": {operation.error}" if operation.error else ""
        super().__init__(
            f"operation {operation.id} ({operation.action}) on project {operation.project_id} "
            f"ended {operation.status}{detail}"
        )
        self.operation = operation


class OperationTimeout(NeonError):
    """The waiter's deadline passed while these operations were still in progress."""

    def __init__(self, operations: tuple[Operation, ...], timeout: float | None = None) -> None:
        listed = ", ".join(f"{op.id} ({op.action}: {op.status})" for op in operations)
        after = f" after {timeout:g}s" if timeout is not None else ""
        super().__init__(f"operations still in progress{after}: {listed}")
        self.operations = operations
        self.timeout = timeout


_BY_STATUS: dict[int, type[NeonStatusError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Unauthorized,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    422: Unprocessable,
    423: Locked,
    429: RateLimited,
    503: ServiceUnavailable,
}


def error_class(status: int) -> type[NeonStatusError]:
    """The one dispatch from HTTP status to exception class."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if 400 <= status < 500:
        return NeonClientError
    if 500 <= status < 600:
        return NeonServerError
    return NeonStatusError
