"""The client-side request budget (budget.py) and identical GETs in flight sent once (coalesce.py)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from neon_api import AsyncNeonClient, NullObserver
from neon_api.budget import BudgetLimits, KeyShares, RequestBudget, route_of
from neon_api.coalesce import InFlight
from neon_checkpoints.settings import NO_BUDGET, default_budget

ROUTE = "GET /projects/*/operations"


def admitted_at(budget: RequestBudget, count: int, route: str = ROUTE, now: float = 0.0) -> list[float]:
    """When each of `count` requests booked at `now` may go."""
    return [now + budget.reserve(route, now) for _ in range(count)]


def test_no_window_admits_more_than_its_allowance() -> None:
    budget = RequestBudget(BudgetLimits(per_minute=700, per_route_per_second=40))
    moments = sorted(admitted_at(budget, 2000))
    for i, start in enumerate(moments):
        in_minute = sum(1 for m in moments[i:] if m < start + 60.0)
        in_second = sum(1 for m in moments[i:] if m < start + 1.0)
        assert in_minute <= 700 and in_second <= 40
    assert moments[3] == 0.0 and moments[4] > 0.0  # a tenth of the route's second at once
    minute = sorted(admitted_at(RequestBudget(BudgetLimits(per_minute=700)), 100))
    assert minute[69] == 0.0 and minute[70] > 0.0  # a tenth of the minute's allowance at once


def test_routes_have_their_own_second_but_share_the_keys_minute() -> None:
    budget = RequestBudget(BudgetLimits(per_minute=0, per_route_per_second=10))
    assert admitted_at(budget, 1, "GET /projects/*/snapshots") == [0.0]
    assert max(admitted_at(budget, 1, ROUTE)) == 0.0
    waits = admitted_at(budget, 3, ROUTE)
    assert waits[0] > 0.0, "a tenth of the route's second is available at once"


def test_a_429_halves_the_rate_honours_retry_after_and_recovers_additively() -> None:
    budget = RequestBudget(BudgetLimits(per_minute=600, per_route_per_second=0))
    admitted_at(budget, 60)  # the burst is used up
    budget.refused(retry_after=2.0, now=0.0)
    assert budget.scale == 0.5 and budget.refusals == 1
    assert budget.reserve(ROUTE, 0.5) >= 1.5, "nothing before Retry-After"
    budget.refused(None, now=1.0)
    assert budget.scale == pytest.approx(0.3)  # (0.5 + 0.1 recovered in that second) / 2
    budget.reserve(ROUTE, 4.0)
    assert budget.scale == pytest.approx(0.6)  # + 0.1 a second
    budget.reserve(ROUTE, 60.0)
    assert budget.scale == 1.0


def test_no_limits_means_no_wait() -> None:
    budget = RequestBudget(BudgetLimits())
    assert set(admitted_at(budget, 5000)) == {0.0}


def test_route_templates_hide_ids() -> None:
    assert route_of("GET", "/projects/p-1/operations/op-9") == "GET /projects/*/operations/*"
    assert route_of("POST", "/projects/p-1/branches/br-1/snapshot") == "POST /projects/*/branches/*/snapshot"


def test_the_default_budget_is_neons_limits_for_neon_and_none_elsewhere() -> None:
    assert default_budget("https://console.neon.tech/api/v2") == BudgetLimits(700, 40)
    assert default_budget("http://127.0.0.1:4000/api/v2") == NO_BUDGET


def test_clients_of_one_key_share_one_budget() -> None:
    shares = KeyShares(BudgetLimits(700, 40))
    assert shares.for_key("napi_a") is shares.for_key("napi_a")
    assert shares.for_key("napi_a") is not shares.for_key("napi_b")


async def test_identical_gets_in_flight_are_sent_once_and_errors_reach_every_caller() -> None:
    flight: InFlight[int] = InFlight()
    sent = 0
    release = asyncio.Event()

    async def send() -> int:
        nonlocal sent
        sent += 1
        await release.wait()
        return sent

    callers = [asyncio.create_task(flight.run("k", send)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*callers) == [1, 1, 1] and flight.shared == 2

    async def fail() -> int:
        await asyncio.sleep(0.01)
        raise RuntimeError("boom")

    failing = [asyncio.create_task(flight.run("k", fail)) for _ in range(2)]
    results = await asyncio.gather(*failing, return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]


async def test_a_client_waits_for_budget_and_a_429_shrinks_it() -> None:
    answers = iter([429, 200, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status == 429:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"message": "rate limit"})
        return httpx.Response(200, json={"snapshots": []})

    share = KeyShares(BudgetLimits(per_minute=0, per_route_per_second=10)).for_key("napi_k")
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with AsyncNeonClient(
        "https://neon.test/api/v2", "napi_k", transport=httpx.MockTransport(handler), sleep=sleep, share=share
    ) as client:
        assert await client.list_snapshots("p-1") == []
        assert await client.list_snapshots("p-1") == []
    assert share.budget.refusals == 1 and share.budget.scale == pytest.approx(0.5, abs=0.01)
    assert share.budget.waits >= 1, "the route's second (1 at once) was used up"


async def test_a_cancelled_sender_does_not_cancel_the_callers_sharing_its_request() -> None:
    flight: InFlight[str] = InFlight()
    started = asyncio.Event()

    async def slow() -> str:
        started.set()
        await asyncio.sleep(10)
        return "first"

    async def quick() -> str:
        return "second"

    leader = asyncio.create_task(flight.run("k", slow))
    await started.wait()
    follower = asyncio.create_task(flight.run("k", quick))
    await asyncio.sleep(0)
    leader.cancel()
    assert await follower == "second"  # it sent the request itself
    with pytest.raises(asyncio.CancelledError):
        await leader


async def test_a_wait_for_budget_is_reported_to_the_observer() -> None:
    class Recording(NullObserver):
        def __init__(self) -> None:
            self.budget_waits: list[float] = []

        def budget_waited(self, seconds: float) -> None:
            self.budget_waits.append(seconds)

    observer = Recording()
    share = KeyShares(BudgetLimits(per_minute=0, per_route_per_second=2)).for_key("napi_k")

    async def sleep(seconds: float) -> None:
        pass

    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"snapshots": []}))
    async with AsyncNeonClient(
        "https://neon.test/api/v2", "napi_k", transport=transport, sleep=sleep, share=share, observer=observer
    ) as client:
        for _ in range(3):  # a burst of 1 at once, then the route's second refills
            await client.list_snapshots("p-1")
    assert len(observer.budget_waits) == share.budget.waits >= 1
    assert all(wait > 0 for wait in observer.budget_waits)
