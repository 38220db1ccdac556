"""Operations: read, list, and wait until terminal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from neon_api.calls.pages import collect
from neon_api.errors import OperationFailed, OperationTimeout
from neon_api.models import Operation
from neon_api.pacing import OperationPace
from neon_api.protocol import Exchange, Request, Step, clock, path, send

OPERATIONS_PAGE = 1000  # the API's maximum `limit` for GET /operations
# A waiter that polls by listing reads this many of the project's newest operations per poll: the ones it
# waits for were started moments ago. One fixed size, so concurrent waiters on a project send the same
# request (the async client sends identical GETs in flight only once).
POLL_PAGE = 50


def _operation_request(project_id: str, operation_id: str) -> Request:
    return Request("GET", path("projects", project_id, "operations", operation_id))


def _list_request(project_id: str) -> Request:
    return Request("GET", path("projects", project_id, "operations"), {"limit": str(POLL_PAGE)})


def _parse(body: object) -> Operation:
    return Operation.from_json(cast(Mapping[str, Any], body)["operation"])


def get_operation(project_id: str, operation_id: str) -> Exchange[Operation]:
    response = yield from send(_operation_request(project_id, operation_id))
    return _parse(response.json())


def list_operations(project_id: str) -> Exchange[list[Operation]]:
    """GET /projects/{id}/operations, every page (newest first)."""
    first = Request("GET", path("projects", project_id, "operations"))
    return (yield from collect(first, "operations", Operation.from_json, limit=OPERATIONS_PAGE))


def wait_for_operations(
    project_id: str,
    operations: Iterable[Operation | str],
    *,
    timeout: float = 300.0,
    pace: OperationPace | None = None,
    listing: bool = False,
) -> Exchange[tuple[Operation, ...]]:
    """Poll every operation until all succeed (`finished`/`skipped`); return them in the order given.

    `error`/`cancelled` raise OperationFailed at once (a `cancelled` one after one more look at its running
    siblings, so that a sibling's `error` is what gets reported). `failed` keeps being polled (Neon may
    retry it) and becomes OperationFailed only at the deadline; anything else still running then is
    OperationTimeout. Unknown statuses count as in progress. Pending operations are polled together in one
    step, so the async client polls them concurrently. When to poll is `pace`'s decision (pacing.py): where
    waits for the same actions usually ended, else backoff from tens of milliseconds to its ceiling; the
    wait's duration is then remembered by `pace`. Without one, plain backoff up to POLL_CEILING.

    `listing=True` polls with one `GET /projects/{id}/operations` (the POLL_PAGE newest) instead of one GET
    per pending operation; an operation not on that page (an old one, on a busy project) is then polled by
    its own GET, in the same step as the next listing.
    """
    latest: dict[str, Operation | None] = {}
    for item in operations:
        if isinstance(item, str):
            latest.setdefault(item, None)
        else:
            latest[item.id] = item
    started = yield from clock()
    deadline = started + timeout
    pace = pace or OperationPace()
    # Bare ids (a wait resumed after a crash) have never been seen: look at them right away, and neither
    # follow nor teach a plan, since what they wait for is unknown. Known in-progress operations had no time
    # to move yet.
    known = [op for op in latest.values() if op is not None]
    kind = OperationPace.kind(op.action for op in known) if len(known) == len(latest) else None
    schedule = pace.schedule(kind)
    delay = 0.0 if kind is None else schedule.next_gap(0.0)
    still_running_at, elapsed = 0.0, 0.0
    looked_again = False
    unlisted: set[str] = set()  # not on the listing's page: polled one by one
    while True:
        hard = [op for op in latest.values() if op is not None and op.failed_hard]
        pending = [
            op_id for op_id, op in latest.items() if op is None or not (op.succeeded or op.failed_hard)
        ]
        if hard:
            # A cancellation is usually the echo of a sibling's error (Neon cancels the rest of a failed
            # request), and the error names the cause: while siblings still run, look once more at once.
            causes = [op for op in hard if op.status != "cancelled"]
            if causes or not pending or looked_again:
                raise OperationFailed((causes or hard)[0])
            looked_again, delay = True, 0.0
        elif not pending:
            if kind is not None and elapsed > 0.0:
                pace.learn(kind, still_running_at, elapsed)
            done = tuple(op for op in latest.values() if op is not None)
            pace.waited((op.action for op in done), elapsed)
            return done
        singles = [op_id for op_id in pending if op_id in unlisted or not listing]
        requests = [_operation_request(project_id, op_id) for op_id in singles]
        if listing and len(singles) < len(pending):
            requests.append(_list_request(project_id))
        replies = yield Step(tuple(requests), delay)
        elapsed = replies.now - started
        for op_id, response in zip(singles, replies.responses, strict=False):
            latest[op_id] = _parse(response.json())
        if len(replies.responses) > len(singles):
            body = cast(Mapping[str, Any], replies.responses[-1].json())
            listed = {op.id: op for op in map(Operation.from_json, body.get("operations") or ())}
            for op_id in pending:
                if op_id in listed:
                    latest[op_id] = listed[op_id]
                elif op_id not in singles:
                    unlisted.add(op_id)
        if any(op is None or not op.succeeded for op in latest.values()):
            still_running_at = elapsed
        if replies.now >= deadline:
            _give_up(latest, timeout)
        delay = min(schedule.next_gap(elapsed), max(0.0, deadline - replies.now))


def _give_up(latest: Mapping[str, Operation | None], timeout: float) -> None:
    """At the deadline: a hard failure or a still-`failed` operation is a failure, otherwise a timeout."""
    ops = [op for op in latest.values() if op is not None]
    for op in ops:
        if op.failed_hard or op.status == "failed":
            raise OperationFailed(op)
    unfinished = tuple(op for op in ops if not op.succeeded)
    if unfinished:
        raise OperationTimeout(unfinished, timeout)
