"""Fault configuration parsing and seeded decisions (pure)."""

from __future__ import annotations

import pytest

from neon_emulator.faults import (
    FaultConfigError,
    FaultInjector,
    parse_config,
    parse_fail_flag,
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
