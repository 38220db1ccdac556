"""Neon, Kubernetes and meta-DB failures become retry-later or fail-now exactly once, with messages
naming the cause."""

from __future__ import annotations

import datetime as dt

import kopf
import psycopg
import pytest

from neon_api import errors
from neon_api.models import Operation
from neon_checkpoints.core.tenancy import ProjectNotAllowed
from neon_checkpoints.core.verdicts import Verdict
from neon_checkpoints.meta.locks import ProjectBusy
from neon_checkpoints.runtime.errors import classify, to_kopf
from neon_checkpoints.runtime.kube import KubeError, SecretUnavailable

T0 = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
SUBJECT = "Neon project p-1"


def status_error(cls: type[errors.NeonStatusError], status: int, **kw: object) -> errors.NeonStatusError:
    return cls(status, "", "boom", "req-1", method="POST", path="/projects/p-1/x", **kw)  # type: ignore[arg-type]


def op(status: str, error: str | None = None) -> Operation:
    return Operation("op-1", "p-1", "br-1", None, "create_branch", status, error, 0, T0, T0)


@pytest.mark.parametrize(
    ("situation", "exc", "retry", "reason", "delay"),
    [
        ("locked", status_error(errors.Locked, 423), True, "NeonLocked", 2.0),
        (
            "rate limited with Retry-After",
            status_error(errors.RateLimited, 429, retry_after=7.0),
            True,
            "NeonRateLimited",
            7.0,
        ),
        ("rate limited", status_error(errors.RateLimited, 429), True, "NeonRateLimited", 5.0),
        ("unavailable", status_error(errors.ServiceUnavailable, 503), True, "NeonUnavailable", 5.0),
        ("server error", status_error(errors.NeonServerError, 500), True, "NeonUnavailable", 5.0),
        (
            "transport",
            errors.NeonRequestError("POST", "/x", "connection refused"),
            True,
            "NeonUnreachable",
            5.0,
        ),
        ("operations slow", errors.OperationTimeout((op("running"),), 5.0), True, "OperationTimeout", 10.0),
        ("project lock busy", ProjectBusy("p-1"), True, "Queued", 1.0),
        (
            "meta db down",
            psycopg.OperationalError("connection to server failed"),
            True,
            "MetaDatabaseUnavailable",
            2.0,
        ),
        ("apiserver away", KubeError("patch status", None), True, "KubernetesUnavailable", 2.0),
        ("apiserver 503", KubeError("patch status", 503), True, "KubernetesUnavailable", 2.0),
        ("apiserver conflict", KubeError("patch status", 409), True, "KubernetesUnavailable", 2.0),
        ("apiserver throttles", KubeError("patch status", 429), True, "KubernetesUnavailable", 2.0),
        ("apiserver forbids", KubeError("get checkpoints", 403), False, "KubernetesRejected", 0.0),
        ("apiserver refuses", KubeError("patch status", 422), False, "KubernetesRejected", 0.0),
        ("secret missing", SecretUnavailable("SecretNotFound", "x"), True, "SecretNotFound", 5.0),
        ("tenancy", ProjectNotAllowed("p-1 is not one"), False, "ProjectNotAllowed", 0.0),
        ("bad key", status_error(errors.Unauthorized, 401), False, "NeonUnauthorized", 0.0),
        ("forbidden", status_error(errors.Unauthorized, 403), False, "NeonUnauthorized", 0.0),
        ("not found", status_error(errors.NotFound, 404), False, "NotFound", 0.0),
        ("conflict", status_error(errors.Conflict, 409), False, "NeonRejected", 0.0),
        ("bad request", status_error(errors.BadRequest, 400), False, "NeonRejected", 0.0),
        ("operation error", errors.OperationFailed(op("error", "disk full")), False, "OperationFailed", 0.0),
    ],
)
def test_classify(situation: str, exc: BaseException, retry: bool, reason: str, delay: float) -> None:
    verdict = classify(exc, subject=SUBJECT)
    assert (verdict.retry, verdict.reason, verdict.delay) == (retry, reason, delay), situation


def test_messages_name_the_cause() -> None:
    assert classify(status_error(errors.NotFound, 404), subject=SUBJECT).message == (
        "Neon project p-1 was not found in Neon (404)"
    )
    assert "rejected (401)" in classify(status_error(errors.Unauthorized, 401), subject=SUBJECT).message
    assert "disk full" in classify(errors.OperationFailed(op("error", "disk full")), subject=SUBJECT).message


def test_meta_database_message_never_holds_the_dsn() -> None:
    exc = psycopg.OperationalError('connection to "postgresql://meta:hunter2@db/meta" failed')
    assert "hunter2" not in classify(exc, subject=SUBJECT).message


def test_unknown_exceptions_are_bugs_and_propagate() -> None:
    with pytest.raises(KeyError):
        classify(KeyError("x"), subject=SUBJECT)


def test_to_kopf() -> None:
    temporary = to_kopf(Verdict(True, "NeonLocked", "locked", 2.0))
    assert isinstance(temporary, kopf.TemporaryError) and temporary.delay == 2.0
    permanent = to_kopf(Verdict(False, "NotFound", "gone"))
    assert isinstance(permanent, kopf.PermanentError) and str(permanent) == "gone"


@pytest.mark.parametrize(
    ("message", "limited"),
    [
        ("snapshot limit reached: the project already has 100 manual snapshots, the plan allows 100", True),
        ("too many snapshots for this project", True),
        ("Maximum number of snapshots exceeded", True),
        ('snapshot with the provided name "x" already exists', False),
        ("rate limit exceeded", False),
    ],
)
def test_a_snapshot_refused_for_the_plans_cap_is_snapshot_limit_reached_and_retried(
    message: str, limited: bool
) -> None:
    exc = errors.Unprocessable(422, "", message, "req-1", method="POST", path="/projects/p-1/x")
    verdict = classify(exc, subject=SUBJECT)
    assert (verdict.reason == "SnapshotLimitReached") is limited
    if limited:
        assert verdict.retry and "maxSnapshotsPerProject" in verdict.message and SUBJECT in verdict.message
