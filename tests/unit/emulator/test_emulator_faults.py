"""Fault configuration parsing and seeded decisions (pure)."""

from __future__ import annotations

import re

import pytest

from neon_emulator.faults import (
    FaultConfigError,
    FaultInjector,
    RateLimit,
    parse_config,
    parse_fail_flag,
    parse_rate_limit_flag,
    parse_rule_flag,
)


def test_short_rule_form_matches_the_json_form() -> None:
    rule = parse_rule_flag("POST /api/v2/projects/*/branches status=423 rate=0.5 times=2 latency=0.1")
    assert (
        rule
        == parse_config(
            {
                "rules": [
                    {
                        "method": "post",
                        "path": "/api/v2/projects/*/branches",
                        "status": 423,
                        "rate": 0.5,
                        "times": 2,
                        "latency": 0.1,
                    }
                ]
            }
        ).rules[0]
    )


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([], "faults"),
        ({"bogus": 1}, "bogus"),
        ({"seed": "x"}, "seed"),
        ({"rules": {}}, "rules"),
        ({"rules": [{"status": 503}]}, "rules[0].path"),
        ({"rules": [{"path": "/a", "status": 200}]}, "rules[0].status"),
        ({"rules": [{"path": "/a", "rate": 1.5}]}, "rules[0].rate"),
        ({"rules": [{"path": "/a", "times": -1}]}, "rules[0].times"),
        ({"rules": [{"path": "/a", "colour": "red"}]}, "colour"),
        ({"fail_operations": {"create_branch": 2}}, "fail_operations.create_branch"),
        ({"latency": -1}, "latency"),
    ],
)
def test_invalid_configuration_names_the_field(raw: object, field: str) -> None:
    with pytest.raises(FaultConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_config(raw)


def test_fail_flag() -> None:
    assert parse_fail_flag("create_branch") == ("create_branch", 1.0)
    assert parse_fail_flag("start_compute=0.25") == ("start_compute", 0.25)
    with pytest.raises(FaultConfigError):
        parse_fail_flag("x=3")


def test_draws_are_reproducible_for_a_seed_and_differ_across_seeds() -> None:
    def run(seed: int) -> list[int | None]:
        injector = FaultInjector(
            parse_config({"seed": seed, "rules": [{"path": "/api/*", "status": 503, "rate": 0.5}]})
        )
        return [injector.decide("GET", "/api/v2/projects").status for _ in range(40)]

    assert run(1) == run(1)
    assert run(1) != run(2)
    assert set(run(1)) == {None, 503}


def test_method_path_times_latency_and_first_match() -> None:
    injector = FaultInjector(
        parse_config(
            {
                "latency": 0.01,
                "rules": [
                    {"path": "/api/v2/projects/*", "latency": 0.2},
                    {"method": "POST", "path": "/api/v2/projects/*/branches", "status": 423, "times": 1},
                    {"path": "/api/v2/projects/*/branches", "status": 429, "retry_after": 2},
                ],
            }
        )
    )
    first = injector.decide("POST", "/api/v2/projects/p/branches")
    assert (first.status, first.delay) == (423, pytest.approx(0.21))
    assert first.body["message"].startswith("project already has running conflicting operations")
    second = injector.decide("POST", "/api/v2/projects/p/branches")
    assert (second.status, second.retry_after) == (429, 2)
    assert injector.decide("GET", "/api/v2/projects").status is None
    assert injector.decide("GET", "/api/v2/projects").delay == pytest.approx(0.01)


def test_operation_failures_by_action() -> None:
    injector = FaultInjector(parse_config({"fail_operations": {"create_branch": 1.0, "start_compute": 0.0}}))
    assert injector.operation_fails("create_branch")
    assert not injector.operation_fails("start_compute")
    assert not injector.operation_fails("apply_config")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def limited(per_minute: int = 0, per_route: int = 0) -> tuple[FaultInjector, Clock]:
    clock = Clock()
    limit = {"per_minute": per_minute, "per_route_per_second": per_route}
    return FaultInjector(parse_config({"rate_limit": limit}), clock=clock), clock


def test_the_route_limit_refuses_with_retry_after_until_its_second_has_passed() -> None:
    faults, clock = limited(per_route=3)
    route = "/api/v2/projects/{project_id}/operations/{operation_id}"
    for _ in range(3):
        assert faults.decide("GET", "/api/v2/projects/p/operations/1", route).status is None
        clock.now += 0.1
    refused = faults.decide("GET", "/api/v2/projects/p/operations/2", route)
    assert (refused.status, refused.retry_after) == (429, 1.0)
    assert refused.body["message"] == "rate limit exceeded"
    branches = "/api/v2/projects/{project_id}/branches"
    assert faults.decide("GET", "/api/v2/projects/p/branches", branches).status is None  # another route
    assert faults.decide("POST", "/api/v2/projects/p/operations/2", route).status is None  # another method
    clock.now += 0.75  # the first of the three is now more than a second old
    assert faults.decide("GET", "/api/v2/projects/p/operations/3", route).status is None


def test_the_minute_limit_counts_every_route_and_not_the_refused_requests() -> None:
    faults, clock = limited(per_minute=5)
    for i in range(5):
        assert faults.decide("GET", f"/api/v2/projects/p{i}", f"/r{i}").status is None
    clock.now += 30
    refused = [faults.decide("GET", "/api/v2/projects", "/r").status for _ in range(10)]
    assert refused == [429] * 10
    assert faults.decide("GET", "/api/v2/projects", "/r").retry_after == 30.0
    clock.now += 30.5  # a minute after the first five: all of them have left the window, no refusal counted
    assert [faults.decide("GET", "/api/v2/projects", "/r").status for _ in range(5)] == [None] * 5


def test_without_a_rate_limit_nothing_is_refused() -> None:
    faults = FaultInjector(parse_config({}))
    assert all(faults.decide("GET", "/api/v2/projects", "/r").status is None for _ in range(5000))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"rate_limit": {"per_minute": -1}}, "rate_limit.per_minute"),
        ({"rate_limit": {"per_route_per_second": 1.5}}, "rate_limit.per_route_per_second"),
        ({"rate_limit": {"per_hour": 5}}, "rate_limit: unknown field(s) per_hour"),
        ({"rate_limit": 700}, "rate_limit: must be an object"),
    ],
)
def test_invalid_rate_limits_name_the_field(raw: object, field: str) -> None:
    with pytest.raises(FaultConfigError, match=re.escape(field)):
        parse_config(raw)


def test_rate_limit_flag() -> None:
    assert parse_rate_limit_flag("700:40") == RateLimit(700, 40)
    assert parse_rate_limit_flag("120") == RateLimit(120, 0)
    with pytest.raises(FaultConfigError, match="--rate-limit 'lots'"):
        parse_rate_limit_flag("lots")
