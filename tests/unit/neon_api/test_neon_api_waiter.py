"""wait_for_operations: Neon's terminal rules, backoff, deadline, concurrency."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from neon_api import OperationPace, errors
from neon_api.models import Operation
from tests.unit.neon_api.fakes import operation_json


def statuses(script: dict[str, list[str]]):
    """Each GET /operations/{id} answers the next status of that operation (the last one repeats)."""
    seen: dict[str, int] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        op_id = request.url.path.rsplit("/", 1)[-1]
        n = seen.get(op_id, 0)
        seen[op_id] = n + 1
        status = script[op_id][min(n, len(script[op_id]) - 1)]
        extra = {"error": "compute failed to start"} if status in ("error", "failed") else {}
        return httpx.Response(200, json={"operation": operation_json(op_id, status, **extra)})

    return handler, seen


def test_waits_until_every_operation_succeeds(make_client, fake_time):
    handler, seen = statuses({"op-1": ["running", "running", "finished"], "op-2": ["scheduling", "skipped"]})
    client = make_client(handler)
    done = client.wait_for_operations("proj-1", ["op-1", "op-2"])
    assert [(op.id, op.status) for op in done] == [("op-1", "finished"), ("op-2", "skipped")]
    assert seen == {"op-1": 3, "op-2": 2}  # a finished operation is not polled again


def test_failed_keeps_polling_and_may_recover(make_client):
    handler, seen = statuses({"op-1": ["running", "failed", "failed", "finished"]})
    client = make_client(handler)
    (op,) = client.wait_for_operations("proj-1", ["op-1"])
    assert op.status == "finished"
    assert seen["op-1"] == 4


@pytest.mark.parametrize("terminal", ["error", "cancelled"])
def test_hard_failure_raises_at_once(make_client, fake_time, terminal):
    handler, _ = statuses({"op-1": ["running", terminal], "op-2": ["running"]})
    client = make_client(handler)
    with pytest.raises(errors.OperationFailed) as caught:
        client.wait_for_operations("proj-1", ["op-1", "op-2"], timeout=60)
    assert caught.value.operation.id == "op-1"
    assert caught.value.operation.status == terminal
    assert fake_time.now - 1000.0 < 1.0  # did not wait for the deadline


def test_a_cancellation_seen_first_looks_again_for_the_siblings_error(make_client, fake_time):
    handler, seen = statuses({"op-1": ["running", "error"], "op-2": ["cancelled"]})
    client = make_client(handler)
    with pytest.raises(errors.OperationFailed) as caught:
        client.wait_for_operations("proj-1", ["op-1", "op-2"], timeout=60)
    assert caught.value.operation.id == "op-1"  # the cause, not its echo
    assert seen == {"op-1": 2, "op-2": 1}
    assert fake_time.sleeps == []  # bare ids are looked at at once, and so is the cancellation's sibling


def test_a_cancellation_with_siblings_still_running_after_one_more_look_is_a_failure(make_client, fake_time):
    handler, seen = statuses({"op-1": ["running"], "op-2": ["cancelled"]})
    client = make_client(handler)
    with pytest.raises(errors.OperationFailed) as caught:
        client.wait_for_operations("proj-1", ["op-1", "op-2"], timeout=60)
    assert caught.value.operation.id == "op-2"
    assert seen == {"op-1": 2, "op-2": 1}


def test_failed_until_the_deadline_is_a_failure(make_client, fake_time):
    handler, _ = statuses({"op-1": ["failed"]})
    client = make_client(handler)
    with pytest.raises(errors.OperationFailed, match="compute failed to start") as caught:
        client.wait_for_operations("proj-1", ["op-1"], timeout=10)
    assert caught.value.operation.status == "failed"
    assert fake_time.now - 1000.0 == pytest.approx(10.0)


def test_running_until_the_deadline_is_a_timeout(make_client, fake_time):
    handler, _ = statuses({"op-1": ["finished"], "op-2": ["running"]})
    client = make_client(handler)
    with pytest.raises(errors.OperationTimeout) as caught:
        client.wait_for_operations("proj-1", ["op-1", "op-2"], timeout=10)
    assert [op.id for op in caught.value.operations] == ["op-2"]
    assert fake_time.now - 1000.0 == pytest.approx(10.0)
    # Backoff: tens of milliseconds first, growing, never above 2 s, never past the deadline.
    assert fake_time.sleeps[0] == pytest.approx(0.02)
    assert max(fake_time.sleeps) == 2.0
    assert len(fake_time.sleeps) < 20


def test_a_lower_poll_ceiling_notices_completion_sooner(make_client, fake_time):
    handler, _ = statuses({"op-1": ["running"] * 30 + ["finished"]})
    client = make_client(handler)
    client.wait_for_operations("proj-1", ["op-1"], pace=OperationPace(0.25))
    assert max(fake_time.sleeps) == 0.25
    assert fake_time.sleeps[0] == pytest.approx(0.02)


def test_already_finished_operations_need_no_request(make_client):
    op = Operation.from_json(operation_json("op-1", "finished"))

    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request {request.url}")

    client = make_client(handler)
    assert client.wait_for_operations("proj-1", [op]) == (op,)
    assert client.wait_for_operations("proj-1", []) == ()


def test_known_running_operations_are_first_polled_after_a_short_delay(make_client, fake_time):
    op = Operation.from_json(operation_json("op-1", "running"))
    handler, _ = statuses({"op-1": ["finished"]})
    client = make_client(handler)
    (done,) = client.wait_for_operations("proj-1", [op])
    assert done.status == "finished"
    assert fake_time.sleeps == [pytest.approx(0.02)]


def test_poll_errors_are_retried_like_any_get(make_client):
    answers = iter(
        [
            httpx.Response(503, json={"message": "unavailable"}),
            httpx.Response(200, json={"operation": operation_json("op-1", "finished")}),
        ]
    )
    client = make_client(lambda request: next(answers))
    assert client.wait_for_operations("proj-1", ["op-1"])[0].succeeded


async def test_async_client_polls_pending_operations_concurrently(make_async_client):
    in_flight = 0
    peak = 0
    polls: dict[str, int] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        op_id = request.url.path.rsplit("/", 1)[-1]
        polls[op_id] = polls.get(op_id, 0) + 1
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        status = "finished" if polls[op_id] >= 2 else "running"
        return httpx.Response(200, json={"operation": operation_json(op_id, status)})

    client = make_async_client(handler)
    done = await client.wait_for_operations("proj-1", ["op-1", "op-2", "op-3"])
    assert [op.status for op in done] == ["finished"] * 3
    assert peak == 3
    assert polls == {"op-1": 2, "op-2": 2, "op-3": 2}


async def test_async_client_raises_hard_failure(make_async_client):
    handler, _ = statuses({"op-1": ["cancelled"]})
    client = make_async_client(handler)
    with pytest.raises(errors.OperationFailed):
        await client.wait_for_operations("proj-1", ["op-1"])


def test_listing_polls_every_pending_operation_with_one_request(make_client, fake_time):
    """`listing=True`: one GET /operations per poll; an operation not on its page is polled by its own GET."""
    rounds = {"list": 0}
    singles: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/operations"):
            assert request.url.params["limit"] == "50"
            rounds["list"] += 1
            status = "finished" if rounds["list"] >= 3 else "running"
            page = [operation_json(op_id, status) for op_id in ("op-2", "op-1")]  # op-old is off the page
            return httpx.Response(200, json={"operations": page, "pagination": {"cursor": "c"}})
        singles.append(request.url.path.rsplit("/", 1)[-1])
        return httpx.Response(200, json={"operation": operation_json(singles[-1], "finished")})

    client = make_client(handler)
    done = client.wait_for_operations("proj-1", ["op-1", "op-2", "op-old"], listing=True)
    assert [(op.id, op.status) for op in done] == [(i, "finished") for i in ("op-1", "op-2", "op-old")]
    assert rounds["list"] == 3 and singles == ["op-old"]
