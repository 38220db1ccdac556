"""The one place where failures become kopf's retry-later or fail-now (conventions item 2).

`classify` turns an exception into a `Verdict` (retry or not, delay, reason, message) that the flow also
writes into status and an Event; `to_kopf` hands it to kopf. Messages name the cause and never hold a secret.
"""

from __future__ import annotations

from collections.abc import Awaitable

import kopf
import psycopg

from neon_api import errors
from neon_checkpoints.core.tenancy import ProjectNotAllowed
from neon_checkpoints.core.verdicts import Verdict, is_refusal_status
from neon_checkpoints.meta.locks import ProjectBusy
from neon_checkpoints.runtime.kube import KubeError, SecretUnavailable

# What a failing flow may raise and `classify` understands; anything else is a bug and propagates.
EXPECTED = (
    errors.NeonError,
    psycopg.Error,
    ProjectBusy,
    KubeError,
    SecretUnavailable,
    ProjectNotAllowed,
)


# kopf's own retries, set at start-up (operator.py): its API calls (finalizers, progress) after an apiserver
# outage are retried within about 2 s (kopf's default grows to 21 s), for about a minute before kopf gives
# up on the event (a restarted apiserver may answer 503 for a while as it installs its CRDs' paths), and
# an exception that escapes `classify` (a bug) is retried after 1 s instead of kopf's 60.
KOPF_ERROR_BACKOFFS = (0.5, 1.0) + (2.0,) * 30
KOPF_DEFAULT_BACKOFF = 1.0
# Temporary failures of the cluster and the meta DB: they are usually back within seconds, and a retry
# costs one request.
KUBE_RETRY = 2.0
META_RETRY = 2.0


def classify(exc: BaseException, *, subject: str) -> Verdict:
    """`subject` names what the failing call was about (e.g. "Neon project p-1"), for the message."""
    match exc:
        case ProjectNotAllowed():
            return Verdict(False, "ProjectNotAllowed", str(exc))
        case ProjectBusy():
            return Verdict(True, "Queued", str(exc), delay=1.0)
        case SecretUnavailable(reason=reason):
            # The Secret may simply not be applied yet: wait for it rather than fail for good.
            return Verdict(True, reason, str(exc), delay=5.0)
        case KubeError():
            if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 409, 429):
                # Forbidden, invalid, gone: asking again gets the same answer.
                return Verdict(False, "KubernetesRejected", str(exc))
            return Verdict(True, "KubernetesUnavailable", str(exc), delay=KUBE_RETRY)
        case errors.Locked():
            return Verdict(True, "NeonLocked", f"{subject}: a conflicting operation is running (423)", 2.0)
        case errors.RateLimited(retry_after=retry_after):
            delay = retry_after if retry_after is not None else 5.0
            return Verdict(True, "NeonRateLimited", f"{subject}: rate limited by Neon (429)", delay)
        case errors.Unauthorized(status=status):
            return Verdict(
                False, "NeonUnauthorized", f"the Neon API key was rejected ({status}) for {subject}"
            )
        case errors.NotFound():
            return Verdict(False, "NotFound", f"{subject} was not found in Neon (404)")
        case errors.NeonClientError(message=message) if is_snapshot_limit(message):
            # Retried: a schedule's retention (or a person) may delete a snapshot meanwhile.
            return Verdict(
                True,
                "SnapshotLimitReached",
                f"{subject} holds as many manual snapshots as its Neon plan allows ({message}); delete "
                "checkpoints or bound a CheckpointSchedule with maxSnapshotsPerProject",
                SNAPSHOT_LIMIT_RETRY,
            )
        case errors.NeonClientError(status=status, message=message):
            return Verdict(
                False, "NeonRejected", f"Neon rejected the request for {subject} ({status}): {message}"
            )
        case errors.NeonServerError(status=status):
            return Verdict(True, "NeonUnavailable", f"Neon failed ({status}) for {subject}", 5.0)
        case errors.NeonRequestError(reason=reason):
            return Verdict(True, "NeonUnreachable", f"Neon API unreachable for {subject}: {reason}", 5.0)
        case errors.OperationFailed(operation=op):
            detail = f": {op.error}" if op.error else ""
            return Verdict(False, "OperationFailed", f"Neon operation {op.action} {op.status}{detail}")
        case errors.OperationTimeout():
            return Verdict(True, "OperationTimeout", f"{subject}: {exc}", 10.0)
        case errors.NeonError():
            return Verdict(True, "NeonError", f"{subject}: {exc}", 5.0)
        case psycopg.Error():
            # The meta DB URL may hold a password: name the class only.
            return Verdict(
                True, "MetaDatabaseUnavailable", f"meta database: {type(exc).__name__}", META_RETRY
            )
    raise exc


SNAPSHOT_LIMIT_RETRY = 60.0
_LIMIT_WORDS = ("limit", "too many", "maximum", "quota", "exceed")


def is_snapshot_limit(message: str) -> bool:
    """Neon's refusal of a snapshot over the plan's cap. Its exact status and text are undocumented
    (neon-api.md §6.4): a 4xx whose message speaks of snapshots and of a limit."""
    text = message.lower()
    return "snapshot" in text and any(word in text for word in _LIMIT_WORDS)


def is_refusal(exc: BaseException) -> bool:
    """Neon said no for good (a 4xx other than 423/429): asking again would get the same answer."""
    return isinstance(exc, errors.NeonClientError) and is_refusal_status(exc.status)


def to_kopf(verdict: Verdict) -> kopf.TemporaryError | kopf.PermanentError:
    if verdict.retry:
        return kopf.TemporaryError(verdict.message, delay=verdict.delay)
    return kopf.PermanentError(verdict.message)


async def classified(step: Awaitable[None], *, subject: str) -> None:
    """Run a handler's flow; what it raises outside its own handling (e.g. a status write while the
    apiserver is away) is classified here too, so nothing reaches kopf unclassified."""
    try:
        await step
    except EXPECTED as exc:
        raise to_kopf(classify(exc, subject=subject)) from None
