"""Retries only where Neon says they are safe, with backoff, Retry-After and a deadline."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from neon_api import NO_RETRY, RetryPolicy, errors
from neon_api.retry import parse_retry_after
from tests.unit.neon_api.fakes import Recorder, error, project_json, scripted, snapshot_json

OK_PROJECT = httpx.Response(200, json={"project": project_json()})
SNAPSHOT_CREATED = httpx.Response(200, json={"snapshot": snapshot_json("snap-1", "cp"), "operations": []})


@pytest.mark.parametrize("status", [423, 429, 503])
def test_safe_statuses_are_retried_even_for_post(make_client, fake_time, status):
    recorder = Recorder(scripted(error(status), error(status), SNAPSHOT_CREATED))
    client = make_client(recorder)
    result = client.create_snapshot("proj-1", "br-main", name="cp")
    assert result.value.id == "snap-1"
    assert len(recorder.requests) == 3
    # Full jitter with rng=1.0: the upper bound of each window, base 0.25 doubling.
    assert fake_time.sleeps == [0.25, 0.5]


@pytest.mark.parametrize("status", [400, 404, 409, 422, 500, 502])
def test_other_statuses_are_not_retried(make_client, fake_time, status):
    recorder = Recorder(scripted(error(status), OK_PROJECT))
    client = make_client(recorder)
    with pytest.raises(errors.NeonStatusError):
        client.get_project("proj-1")
    assert len(recorder.requests) == 1
    assert fake_time.sleeps == []


def test_retry_after_seconds_is_honoured(make_client, fake_time):
    recorder = Recorder(scripted(error(429, **{"Retry-After": "3"}), OK_PROJECT))
    client = make_client(recorder)
    assert client.get_project("proj-1").id == "proj-1"
    assert fake_time.sleeps == [3.0]


def test_rate_limited_error_carries_retry_after(make_client):
    client = make_client(scripted(error(429, **{"Retry-After": "7"})), retry=NO_RETRY)
    with pytest.raises(errors.RateLimited) as caught:
        client.get_project("proj-1")
    assert caught.value.retry_after == 7.0


def test_retry_after_longer_than_the_budget_fails_at_once(make_client, fake_time):
    recorder = Recorder(scripted(error(423, **{"Retry-After": "120"}), OK_PROJECT))
    client = make_client(recorder, retry=RetryPolicy(max_elapsed=30.0, rng=lambda: 1.0))
    with pytest.raises(errors.Locked):
        client.get_project("proj-1")
    assert len(recorder.requests) == 1
    assert fake_time.sleeps == []


def test_retries_stop_at_the_deadline(make_client, fake_time):
    recorder = Recorder(scripted(*[error(423, "project already has running conflicting operations")] * 50))
    client = make_client(recorder, retry=RetryPolicy(max_elapsed=5.0, base=0.25, cap=10.0, rng=lambda: 1.0))
    with pytest.raises(errors.Locked, match="conflicting operations"):
        client.get_project("proj-1")
    # 0.25 + 0.5 + 1 + 2 = 3.75 elapsed; the next 4 s would pass 5 s, so the fifth answer is final.
    assert fake_time.sleeps == [0.25, 0.5, 1.0, 2.0]
    assert len(recorder.requests) == 5


def test_backoff_is_capped_and_jittered():
    policy = RetryPolicy(base=0.25, cap=10.0, rng=lambda: 0.5)
    assert [policy.backoff(n) for n in range(8)] == [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert RetryPolicy(rng=lambda: 0.0).backoff(3) == 0.0


def test_transport_errors_are_retried_on_get(make_client, fake_time):
    recorder = Recorder(
        scripted(httpx.ConnectError("connection refused"), httpx.ReadTimeout("slow"), OK_PROJECT)
    )
    client = make_client(recorder)
    assert client.get_project("proj-1").name == "app"
    assert len(recorder.requests) == 3


def test_transport_errors_are_not_retried_on_post(make_client, fake_time):
    recorder = Recorder(scripted(httpx.ReadTimeout("timed out"), SNAPSHOT_CREATED))
    client = make_client(recorder)
    with pytest.raises(errors.NeonRequestError) as caught:
        client.create_snapshot("proj-1", "br-main", name="cp")
    # The snapshot may exist now: the caller must look it up by name rather than post again.
    assert len(recorder.requests) == 1
    assert caught.value.method == "POST"
    assert not caught.value.retryable
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


def test_transport_errors_on_get_give_up_at_the_deadline(make_client, fake_time):
    recorder = Recorder(scripted(*[httpx.ConnectError("refused")] * 50))
    client = make_client(recorder, retry=RetryPolicy(max_elapsed=1.0, rng=lambda: 1.0))
    with pytest.raises(errors.NeonRequestError, match="refused"):
        client.get_project("proj-1")
    assert fake_time.sleeps == [0.25, 0.5]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5.0),
        (" 0.5 ", 0.5),
        ("-3", 0.0),
        ("Thu, 01 Jan 2026 00:00:10 GMT", 10.0),
        ("Wed, 31 Dec 2025 23:59:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header, expected):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after(header, now) == expected
