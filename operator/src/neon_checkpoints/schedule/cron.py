"""Schedule triggers (pure, no I/O): 5-field cron expressions and fixed intervals, both in UTC.

Cron matching is cronsim's (Debian cron's rules: names, ranges, steps, weekday 0 or 7 = Sunday, and a day
matches EITHER a restricted day-of-month OR a restricted day-of-week). We add the `@hourly`-style macros and
insist on exactly 5 fields (cronsim also takes a seconds field); the CRD's validation rules are the grammar
gate users meet first, with a message per field.

Both triggers answer the two questions a scheduler asks: "when is the next run after t?" and "which was the
latest run at or before t?". The second lets the planner catch up once after downtime without replaying
every missed run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cronsim import CronSim, CronSimError

from neon_checkpoints.core.durations import format_duration

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_SECOND = dt.timedelta(seconds=1)


class CronError(ValueError):
    """A cron expression that cannot be used; the message names the offending field."""


@dataclass(frozen=True)
class Cron:
    # As written (whitespace normalized), and the 5 fields it stands for.
    expression: str
    fields: str

    def describe(self) -> str:
        return self.expression

    def next_after(self, moment: dt.datetime, anchor: dt.datetime | None = None) -> dt.datetime | None:
        """The first matching minute strictly after `moment`."""
        return next(CronSim(self.fields, _utc(moment)))

    def latest_at_or_before(
        self, moment: dt.datetime, anchor: dt.datetime | None = None
    ) -> dt.datetime | None:
        """The last matching minute at or before `moment` (cronsim's reverse walk starts strictly before)."""
        start = _utc(moment).replace(second=0, microsecond=0) + _SECOND
        return next(CronSim(self.fields, start, reverse=True))


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
    if text.startswith("@") and text.lower() not in _MACROS:
        raise CronError(f"unknown macro {text!r} (use one of {', '.join(sorted(_MACROS))})")
    fields = _MACROS.get(text.lower(), text)
    count = len(fields.split(" "))
    if count != 5:
        raise CronError(
            f"{expression!r} has {count} fields; expected 5: minute hour day-of-month month day-of-week"
        )
    try:
        CronSim(fields, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    except CronSimError as exc:
        # cronsim says "Bad <field>"; a day-of-month can also be refused for never existing (30 feb).
        field = str(exc).removeprefix("Bad ")
        raise CronError(
            f"{expression!r}: the {field} field is invalid or never matches a real date"
        ) from None
    return Cron(expression=text, fields=fields)


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: schedules work in UTC and need aware datetimes")
    return moment.astimezone(dt.UTC)


def _anchor(anchor: dt.datetime | None) -> dt.datetime:
    if anchor is None:
        raise ValueError("an interval trigger needs its anchor (the schedule's creation time)")
    return _utc(anchor).replace(microsecond=0)
