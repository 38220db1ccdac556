"""Operation polling: backoff, plans at the quantiles of earlier waits, and a waiter that learns from them."""

from __future__ import annotations

import httpx
import pytest

from neon_api import OperationPace
from neon_api.models import Operation
from neon_api.pacing import MIN_REMEMBERED, REMEMBERED, PollSchedule, backoff, plan
from tests.unit.neon_api.fakes import FakeTime, operation_json


def test_backoff_starts_in_tens_of_ms_and_grows_to_the_ceiling():
    gaps = backoff(ceiling=2.0)
    first = [next(gaps) for _ in range(20)]
    assert first[0] == pytest.approx(0.02)
    assert first == sorted(first)
    assert first[-1] == 2.0


def test_no_plan_before_enough_waits_are_remembered():
    assert plan([0.4] * (MIN_REMEMBERED - 1)) == ()


def test_the_plan_polls_at_the_quantiles_of_earlier_waits_at_least_min_gap_apart():
    durations = [0.30 + 0.01 * i for i in range(11)]  # 0.30 .. 0.40
    assert plan(durations, min_gap=0.0) == pytest.approx(durations)
    assert plan(durations, min_gap=0.015) == pytest.approx([0.30, 0.32, 0.34, 0.36, 0.38, 0.40])
    assert plan([0.5] * 10) == (0.5,)


def test_a_schedule_follows_its_plan_then_backs_off_and_never_exceeds_the_ceiling():
    schedule = PollSchedule(planned=(0.3, 0.35, 0.4), ceiling=0.25)
    assert schedule.next_gap(0.0) == 0.25  # the first planned poll is 0.3 s away: the ceiling comes first
    assert schedule.next_gap(0.25) == pytest.approx(0.05)
    assert schedule.next_gap(0.3) == pytest.approx(0.05)
    assert schedule.next_gap(0.39) == pytest.approx(0.02)  # 0.40 is too close (min gap): back off instead
    assert schedule.next_gap(0.41) == pytest.approx(0.032)


def test_pace_remembers_the_recent_waits_of_each_kind():
    pace = OperationPace()
    kind = OperationPace.kind(["timeline_archive", "create_branch"])
    assert kind == ("create_branch", "timeline_archive")
    for i in range(REMEMBERED + 5):
        pace.learn(kind, still_running_at=i, done_at=i + 1.0)
    assert len(pace.remembered(kind)) == REMEMBERED
    assert pace.remembered(kind)[-1] == REMEMBERED + 4.5
    assert pace.remembered(("start_compute",)) == ()
    assert pace.schedule(("start_compute",)).planned == ()


def finishing_at(fake_time: FakeTime, seconds: float, actions: dict[str, str]):
    """Each operation reports `running` until `seconds` after now on the fake clock, then `finished`."""
    done_at = fake_time.now + seconds
    polls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        op_id = request.url.path.rsplit("/", 1)[-1]
        polls.append(fake_time.now)
        status = "finished" if fake_time.now >= done_at else "running"
        return httpx.Response(200, json={"operation": operation_json(op_id, status, action=actions[op_id])})

    return handler, polls, done_at


def running(op_id: str, action: str) -> Operation:
    return Operation.from_json(operation_json(op_id, "running", action=action))


def test_a_waiter_that_learned_the_duration_notices_completion_sooner_with_fewer_polls(
    make_client, fake_time
):
    actions = {"op-1": "create_branch", "op-2": "timeline_archive"}
    ops = [running(op_id, action) for op_id, action in actions.items()]
    pace = OperationPace(ceiling=0.25)

    def wait(seconds: float) -> tuple[int, float]:
        handler, polls, done_at = finishing_at(fake_time, seconds, actions)
        client = make_client(handler)
        client.wait_for_operations("proj-1", ops, pace=pace)
        return len(polls), fake_time.now - done_at  # polls made, and how late the finish was noticed

    first = [wait(0.45) for _ in range(MIN_REMEMBERED)]  # plain backoff while nothing is remembered
    learned = [wait(0.45) for _ in range(5)]
    assert len(pace.remembered(OperationPace.kind(actions.values()))) == MIN_REMEMBERED + 5
    polls_before, late_before = first[0]
    polls_after, late_after = learned[-1]
    assert late_before >= 0.05  # backoff: 0.02, 0.032, ... sum past 0.45 s lands well after it
    assert late_after < late_before / 2
    assert polls_after < polls_before


def test_a_slower_wait_than_remembered_backs_off_from_tens_of_ms(make_client, fake_time):
    actions = {"op-1": "create_branch"}
    pace = OperationPace(ceiling=2.0)
    kind = OperationPace.kind(actions.values())
    for _ in range(MIN_REMEMBERED):
        pace.learn(kind, 0.1, 0.1)
    handler, polls, done_at = finishing_at(fake_time, 1.0, actions)
    make_client(handler).wait_for_operations("proj-1", [running("op-1", "create_branch")], pace=pace)
    started = done_at - 1.0
    gaps = [b - a for a, b in zip([started, *polls], polls, strict=False)]
    assert gaps[0] == pytest.approx(0.1)  # the plan: where such waits ended
    assert gaps[1] == pytest.approx(0.02)  # then backoff, from tens of milliseconds
    assert fake_time.now - done_at < 0.5


def test_bare_ids_and_waits_without_polls_teach_nothing(make_client, fake_time):
    pace = OperationPace()
    handler, _, _ = finishing_at(fake_time, 0.0, {"op-1": "create_branch"})
    client = make_client(handler)
    client.wait_for_operations("proj-1", ["op-1"], pace=pace)  # resumed after a crash: kind unknown
    finished = Operation.from_json(operation_json("op-1", "finished"))
    client.wait_for_operations("proj-1", [finished], pace=pace)  # nothing to wait for
    assert pace.remembered(("create_branch",)) == ()
