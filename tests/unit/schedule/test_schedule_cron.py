"""Cron triggers: parsing, and the next/previous run calculator (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from neon_checkpoints.schedule.cron import CronError, Every, parse_cron


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("situation", "expression", "after", "runs"),
    [
        ("every minute", "* * * * *", utc(2026, 1, 1, 10, 0), [(10, 1), (10, 2), (10, 3)]),
        ("step over everything", "*/15 * * * *", utc(2026, 1, 1, 10, 0), [(10, 15), (10, 30), (10, 45)]),
        ("range with step", "10-30/10 * * * *", utc(2026, 1, 1, 10, 0), [(10, 10), (10, 20), (10, 30)]),
        (
            "list of values and ranges",
            "1,3,10-11 * * * *",
            utc(2026, 1, 1, 10, 0),
            [(10, 1), (10, 3), (10, 10)],
        ),
        ("hours", "0 9-10 * * *", utc(2026, 1, 1, 8, 0), [(9, 0), (10, 0), (9, 0)]),
        ("macro @hourly", "@hourly", utc(2026, 1, 1, 10, 30), [(11, 0), (12, 0), (13, 0)]),
    ],
)
def test_fields_give_the_runs_they_describe(
    situation: str, expression: str, after: dt.datetime, runs: list[tuple[int, int]]
) -> None:
    cron, found = parse_cron(expression), []
    for _ in runs:
        after = cron.next_after(after) or after
        found.append((after.hour, after.minute))
    assert found == runs, situation


@pytest.mark.parametrize(
    ("situation", "expression", "after", "expected"),
    [
        ("month names", "0 0 1 jan,JUL *", utc(2026, 2, 1), utc(2026, 7, 1)),
        # 2026-01-01 is a Thursday.
        ("weekday names range", "0 0 * * mon-fri", utc(2026, 1, 2, 1), utc(2026, 1, 5)),
        ("weekday 7 is Sunday", "0 0 * * 7", utc(2026, 1, 1), utc(2026, 1, 4)),
        ("macro @weekly is Sunday midnight", "@weekly", utc(2026, 1, 1), utc(2026, 1, 4)),
    ],
)
def test_names_and_macros(situation: str, expression: str, after: dt.datetime, expected: dt.datetime) -> None:
    assert parse_cron(expression).next_after(after) == expected, situation


@pytest.mark.parametrize(
    ("situation", "expression", "message"),
    [
        ("four fields", "* * * *", "expected 5"),
        ("six fields (a seconds field)", "0 * * * * *", "expected 5"),
        ("minute out of range", "60 * * * *", "minute field"),
        ("hour out of range", "0 24 * * *", "hour field"),
        ("day zero", "0 0 0 * *", "day-of-month field"),
        ("month thirteen", "0 0 1 13 *", "month field"),
        ("weekday eight", "0 0 * * 8", "day-of-week field"),
        ("unknown name", "0 0 * * funday", "day-of-week field"),
        ("zero step", "*/0 * * * *", "minute field"),
        ("backwards range", "30-10 * * * *", "minute field"),
        ("empty list item", "1,,2 * * * *", "minute field"),
        ("date that never exists", "0 0 30 feb *", "never matches"),
        ("unknown macro", "@reboot", "unknown macro"),
    ],
)
def test_invalid_expressions_are_rejected_naming_the_part(
    situation: str, expression: str, message: str
) -> None:
    with pytest.raises(CronError, match=message):
        parse_cron(expression)


@pytest.mark.parametrize(
    ("situation", "expression", "after", "expected"),
    [
        ("next minute", "* * * * *", utc(2026, 1, 1, 10, 0, 30), utc(2026, 1, 1, 10, 1)),
        ("strictly after an exact match", "*/5 * * * *", utc(2026, 1, 1, 10, 5), utc(2026, 1, 1, 10, 10)),
        ("rolls into the next hour", "15 * * * *", utc(2026, 1, 1, 10, 20), utc(2026, 1, 1, 11, 15)),
        ("rolls into the next day", "0 3 * * *", utc(2026, 1, 1, 4, 0), utc(2026, 1, 2, 3, 0)),
        ("rolls into the next year", "0 0 1 1 *", utc(2026, 3, 1), utc(2027, 1, 1)),
        ("31st skips short months", "0 0 31 * *", utc(2026, 4, 1), utc(2026, 5, 31)),
        ("leap day", "0 0 29 2 *", utc(2026, 3, 1), utc(2028, 2, 29)),
        # 2026-01-01 is a Thursday.
        ("weekday only", "0 12 * * mon", utc(2026, 1, 1), utc(2026, 1, 5, 12, 0)),
        ("day OR weekday when both restricted", "0 0 10 * mon", utc(2026, 1, 1), utc(2026, 1, 5)),
        ("day AND weekday when weekday is a star step", "0 0 10 * */1", utc(2026, 1, 1), utc(2026, 1, 10)),
    ],
)
def test_next_run(situation: str, expression: str, after: dt.datetime, expected: dt.datetime) -> None:
    assert parse_cron(expression).next_after(after) == expected, situation


@pytest.mark.parametrize(
    ("situation", "expression", "at", "expected"),
    [
        ("an exact match is included", "*/5 * * * *", utc(2026, 1, 1, 10, 5), utc(2026, 1, 1, 10, 5)),
        ("seconds are ignored", "*/5 * * * *", utc(2026, 1, 1, 10, 7, 59), utc(2026, 1, 1, 10, 5)),
        ("back into the previous day", "0 3 * * *", utc(2026, 1, 2, 2, 59), utc(2026, 1, 1, 3, 0)),
        ("back into the previous year", "30 23 31 12 *", utc(2026, 6, 1), utc(2025, 12, 31, 23, 30)),
        ("leap day", "0 0 29 2 *", utc(2027, 1, 1), utc(2024, 2, 29)),
    ],
)
def test_latest_run(situation: str, expression: str, at: dt.datetime, expected: dt.datetime) -> None:
    assert parse_cron(expression).latest_at_or_before(at) == expected, situation


# An independent oracle: each expression's meaning written out by hand as a predicate on a minute (Python's
# weekday(): Monday = 0), never derived from the parser's output.
ORACLES: dict[str, Callable[[dt.datetime], bool]] = {
    "*/7 * * * *": lambda t: t.minute % 7 == 0,
    "0 */5 * * 1-5": lambda t: t.minute == 0 and t.hour % 5 == 0 and t.weekday() < 5,
    "13 2 1,15 * *": lambda t: (t.minute, t.hour) == (13, 2) and t.day in (1, 15),
    # Both day fields restricted: either matches (cron(8)).
    "0 0 13 * fri": lambda t: (t.minute, t.hour) == (0, 0) and (t.day == 13 or t.weekday() == 4),
    "5-10/2 3 * jun-aug sun": lambda t: (
        t.minute in (5, 7, 9) and t.hour == 3 and t.month in (6, 7, 8) and t.weekday() == 6
    ),
    "@monthly": lambda t: (t.minute, t.hour, t.day) == (0, 0, 1),
}


@pytest.mark.parametrize("expression", ORACLES)
def test_runs_agree_with_a_minute_by_minute_scan(expression: str) -> None:
    cron, matches = parse_cron(expression), ORACLES[expression]
    moment = utc(2026, 1, 30, 22, 0)
    expected = moment + dt.timedelta(minutes=1)
    for _ in range(6):
        while not matches(expected):
            expected += dt.timedelta(minutes=1)
        found = cron.next_after(moment)
        assert found == expected
        assert cron.latest_at_or_before(found + dt.timedelta(seconds=59)) == found
        moment, expected = found, found + dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("situation", "at", "next_expected", "latest_expected"),
    [
        ("before the first run", utc(2026, 1, 1, 0, 0, 20), utc(2026, 1, 1, 0, 0, 30), None),
        ("exactly on a run", utc(2026, 1, 1, 0, 1, 0), utc(2026, 1, 1, 0, 1, 30), utc(2026, 1, 1, 0, 1, 0)),
        ("between runs", utc(2026, 1, 1, 0, 1, 10), utc(2026, 1, 1, 0, 1, 30), utc(2026, 1, 1, 0, 1, 0)),
        ("before the anchor", utc(2025, 12, 31), utc(2026, 1, 1, 0, 0, 30), None),
    ],
)
def test_every_is_anchored_at_the_schedule_creation(
    situation: str, at: dt.datetime, next_expected: dt.datetime, latest_expected: dt.datetime | None
) -> None:
    every, anchor = Every(dt.timedelta(seconds=30)), utc(2026, 1, 1)
    assert every.next_after(at, anchor) == next_expected, situation
    assert every.latest_at_or_before(at, anchor) == latest_expected, situation


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        parse_cron("* * * * *").next_after(dt.datetime(2026, 1, 1))
