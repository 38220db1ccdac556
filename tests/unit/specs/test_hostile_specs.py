"""No spec can wedge the operator: random and extreme specs given to the spec parsers and the plans raise
nothing but the project's own invalid-spec error (issue 20 item 4). Before, a huge ttl raised "Python int too
large to convert to C int" in handlers and a far expiresAt "date value out of range", retried by kopf forever
with no phase and no Event."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neon_checkpoints.checkpoint.expiry import plan_expiry
from neon_checkpoints.checkpoint.plan import Phase, plan_expiry_change
from neon_checkpoints.checkpoint.spec import CheckpointSpec
from neon_checkpoints.core.errors import InvalidSpec
from neon_checkpoints.restore.spec import RestoreSpec
from neon_checkpoints.schedule.plan import plan_run
from neon_checkpoints.schedule.spec import ScheduleSpec

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# What a hostile manifest can put where a value goes: extremes of every JSON type, near-misses of the
# grammars, unicode and NUL.
durations = st.one_of(
    st.from_regex(r"\A([0-9]{1,14}[smhdw]?){1,5}\Z"),
    st.sampled_from(
        ["0s", "999999999999d", "9" * 40 + "s", "1h 2m", "-5m", "1.5h", "", "d", "3650d", "3651d"]
    ),
)
times = st.one_of(
    st.datetimes(timezones=st.just(dt.UTC)).map(lambda t: t.isoformat()),
    st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "now", ""]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.just("a\x00b"),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
)


def field(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the right kind of value, sometimes anything at all."""
    return st.one_of(strategy, values)


checkpoint_specs = st.fixed_dictionaries(
    {},
    optional={
        "projectId": field(st.from_regex(r"\A[a-z0-9-]{1,60}\Z")),
        "branch": field(st.text(max_size=20)),
        "source": field(st.dictionaries(st.text(max_size=8), values, max_size=4)),
        "ttl": field(durations),
        "expiresAt": field(times),
        "deletionPolicy": field(st.sampled_from(["Delete", "Retain", "Keep"])),
        "credentialsSecretRef": field(st.fixed_dictionaries({"name": values}, optional={"key": values})),
    },
)
restore_specs = st.fixed_dictionaries(
    {},
    optional={
        "checkpointRef": field(st.fixed_dictionaries({"name": values})),
        "mode": field(st.sampled_from(["Finalize", "Preview", "Rewind"])),
        "previewSecretName": values,
        "oldBranchPolicy": field(st.sampled_from(["Retain", "Delete"])),
        "credentialsSecretRef": values,
    },
)
schedule_specs = st.fixed_dictionaries(
    {},
    optional={
        "schedule": field(
            st.sampled_from(["0 3 * * *", "*/5 * * * *", "@daily", "61 * * * *", "0 0 30 2 *"])
        ),
        "every": field(durations),
        "checkpointTemplate": field(st.fixed_dictionaries({"spec": field(checkpoint_specs)})),
        "retention": field(
            st.fixed_dictionaries({}, optional={"keepLast": values, "maxAge": field(durations)})
        ),
        "suspend": values,
    },
)


@EXAMPLES
@given(checkpoint_specs, st.datetimes(timezones=st.just(dt.UTC)))
def test_checkpoint_specs_and_plans(spec: dict[str, Any], now: dt.datetime) -> None:
    try:
        parsed = CheckpointSpec.from_dict(spec)
    except InvalidSpec:
        return
    parsed.expiry(T0)
    plan_expiry(spec, created_at=T0, now=now, deleting=False, held_by_restore=False)
    plan_expiry_change(parsed, phase=Phase.READY, snapshot_id="snap", created_at=T0, recorded=None, now=now)


@EXAMPLES
@given(restore_specs, st.text(min_size=1, max_size=300))
def test_restore_specs(spec: dict[str, Any], name: str) -> None:
    try:
        parsed = RestoreSpec.from_dict(spec)
    except InvalidSpec:
        return
    assert len(parsed.secret_name(name)) <= 253 or parsed.preview_secret_name is not None


@EXAMPLES
@given(schedule_specs, st.datetimes(timezones=st.just(dt.UTC)))
def test_schedule_specs_and_plans(spec: dict[str, Any], now: dt.datetime) -> None:
    try:
        parsed = ScheduleSpec.from_dict(spec)
    except InvalidSpec:
        return
    plan_run(parsed.trigger, created_at=T0, last_run=None, suspended_through=None, suspend=False, now=now)
