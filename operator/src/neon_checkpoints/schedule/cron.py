"""Schedule triggers (pure, no I/O): 5-field cron expressions and fixed intervals, both in UTC.

Cron follows the classic (Vixie) rules: `*`, numbers, `a-b` ranges, `/step`, comma lists, month and weekday
names, weekday 0 or 7 = Sunday, and the `@hourly`-style macros. When both day-of-month and day-of-week are
restricted (neither starts with `*`), a day matches if EITHER does, as in cron(8).

Both triggers answer the two questions a scheduler asks: "when is the next run after t?" and "which was the
latest run at or before t?". The second lets the planner catch up once after downtime without replaying
every missed run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from neon_checkpoints.core.durations import format_duration

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Far enough to find Feb 29 on a given weekday (the weekday/leap-year cycle is 28 years).
_SEARCH_DAYS = 366 * 29


class CronError(ValueError):
    """A cron expression or duration that cannot be used; the message names the offending part."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    # Value of names[0] (months count from 1).
    names_base: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS, 1),
    _Field("day-of-week", 0, 7, _WEEKDAYS, 0),
)


def _value(field: _Field, token: str, whole: str) -> int:
    lowered = token.lower()
    if lowered in field.names:
        return field.names.index(lowered) + field.names_base
    if not token.isdigit():
        raise CronError(f"{field.name} field {whole!r}: {token!r} is not a number or name")
    number = int(token)
    if not field.low <= number <= field.high:
        raise CronError(f"{field.name} field {whole!r}: {number} is out of range {field.low}-{field.high}")
    return number


def _parse_field(field: _Field, text: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CronError(f"{field.name} field {text!r}: empty list item")
        span, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"{field.name} field {text!r}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if span == "*":
            low, high = field.low, field.high
        elif "-" in span:
            first, _, last = span.partition("-")
            low, high = _value(field, first, text), _value(field, last, text)
            if low > high:
                raise CronError(f"{field.name} field {text!r}: range {span!r} runs backwards")
        else:
            low = _value(field, span, text)
            # `5/15` means "from 5, every 15" (as in most crons); a bare `5` is just 5.
            high = field.high if step_text else low
        values.update(range(low, high + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    # 0 = Sunday ... 6 = Saturday.
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    def describe(self) -> str:
        return self.expression

    def _day_matches(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays

    def next_after(self, moment: dt.datetime, anchor: dt.datetime | None = None) -> dt.datetime | None:
        """The first matching minute strictly after `moment` (None: never, e.g. `0 0 30 2 *`)."""
        start = _utc(moment).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        day = start.date()
        for _ in range(_SEARCH_DAYS):
            if self._day_matches(day):
                floor = (start.hour, start.minute) if day == start.date() else (0, 0)
                for hour in self.hours:
                    for minute in self.minutes:
                        if (hour, minute) >= floor:
                            return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)
            day += dt.timedelta(days=1)
        return None

    def latest_at_or_before(
        self, moment: dt.datetime, anchor: dt.datetime | None = None
    ) -> dt.datetime | None:
        """The last matching minute at or before `moment` (None: none within the search horizon)."""
        end = _utc(moment).replace(second=0, microsecond=0)
        day = end.date()
        for _ in range(_SEARCH_DAYS):
            if self._day_matches(day):
                ceiling = (end.hour, end.minute) if day == end.date() else (23, 59)
                for hour in reversed(self.hours):
                    for minute in reversed(self.minutes):
                        if (hour, minute) <= ceiling:
                            return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)
            day -= dt.timedelta(days=1)
        return None


@dataclass(frozen=True)
class Every:
    """Runs at anchor + k * interval (k >= 1); the anchor is the schedule's creation time, so the series
    is the same after every operator restart."""

    interval: dt.timedelta

    def describe(self) -> str:
        return f"every {format_duration(self.interval)}"

    def next_after(self, moment: dt.datetime, anchor: dt.datetime | None = None) -> dt.datetime | None:
        base = _anchor(anchor)
        moment = _utc(moment)
        if moment < base:
            return base + self.interval
        steps = (moment - base) // self.interval + 1
        return base + steps * self.interval

    def latest_at_or_before(
        self, moment: dt.datetime, anchor: dt.datetime | None = None
    ) -> dt.datetime | None:
        base = _anchor(anchor)
        steps = (_utc(moment) - base) // self.interval
        return base + steps * self.interval if steps >= 1 else None


Trigger = Cron | Every


def parse_cron(expression: str) -> Cron:
    text = " ".join(expression.split())
    fields = _MACROS.get(text.lower(), text).split(" ")
    if text.startswith("@") and text.lower() not in _MACROS:
        raise CronError(f"unknown macro {text!r} (use one of {', '.join(sorted(_MACROS))})")
    if len(fields) != 5:
        raise CronError(
            f"{expression!r} has {len(fields)} fields; expected 5: minute hour day-of-month month day-of-week"
        )
    parsed = [_parse_field(field, part) for field, part in zip(_FIELDS, fields, strict=True)]
    weekdays = frozenset(d % 7 for d in parsed[4])
    cron = Cron(
        expression=text,
        minutes=tuple(sorted(parsed[0])),
        hours=tuple(sorted(parsed[1])),
        days=parsed[2],
        months=parsed[3],
        weekdays=weekdays,
        days_restricted=not fields[2].startswith("*"),
        weekdays_restricted=not fields[4].startswith("*"),
    )
    if cron.next_after(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) is None:
        raise CronError(f"{expression!r} never matches a real date")
    return cron


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: schedules work in UTC and need aware datetimes")
    return moment.astimezone(dt.UTC)


def _anchor(anchor: dt.datetime | None) -> dt.datetime:
    if anchor is None:
        raise ValueError("an interval trigger needs its anchor (the schedule's creation time)")
    return _utc(anchor).replace(microsecond=0)
