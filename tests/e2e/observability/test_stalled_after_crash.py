"""kstatus after a kill -9 (issue 17 item 3): the operator dies at each crash-injection point, leaving its
resource Reconciling. Once a new operator runs, no resource stays Reconciling for longer than the stall bound
(twice the p99 of the learned waits; before any is learned, NEON_CHECKPOINTS_STALL_AFTER, here 1 s) without
Stalled: the resumed run marks it Stalled (Interrupted) at once, and Ready/Succeeded clears both conditions.

Watched by polling the resource from the restart on; every sample after the new operator's first write must
satisfy the rule."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.restore.conftest import RestoreHarness

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]

STALL_AFTER = 1.0
Samples = list[tuple[dt.datetime, dict[str, Any]]]
DONE = ("Ready", "Succeeded")


def conditions(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (body.get("status") or {}).get("conditions") or []}


def reconciling_age(body: dict[str, Any], now: dt.datetime) -> float | None:
    condition = conditions(body).get("Reconciling")
    if condition is None or condition["status"] != "True":
        return None
    since = dt.datetime.fromisoformat(condition["lastTransitionTime"].replace("Z", "+00:00"))
    return (now - since).total_seconds()


def watch_until_done(
    read: Callable[[], dict[str, Any]], timeout: float = 90
) -> list[tuple[dt.datetime, dict[str, Any]]]:
    samples = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = read()
        samples.append((dt.datetime.now(dt.UTC), body))
        if (body.get("status") or {}).get("phase") in (*DONE, "Failed"):
            return samples
        time.sleep(0.05)
    raise AssertionError(f"never done: {samples[-1][1].get('status')}")


def assert_never_reconciling_too_long_without_stalled(crashed: dict[str, Any], samples: Samples) -> None:
    stale = crashed["metadata"]["resourceVersion"]
    written = [(now, body) for now, body in samples if body["metadata"]["resourceVersion"] != stale]
    assert written, "the new operator never wrote status"
    for now, body in written:
        age = reconciling_age(body, now)
        stalled = conditions(body).get("Stalled", {})
        if age is not None and age > STALL_AFTER:
            assert stalled.get("status") == "True", (age, body["status"])
    first = written[0][1]
    # The resume may finish between two samples; if it did not, the first write already said Stalled.
    if first["status"]["phase"] not in DONE:
        assert conditions(first)["Stalled"]["reason"] == "Interrupted", first["status"]
    final = written[-1][1]
    assert final["status"]["phase"] in DONE, final["status"]
    assert (conditions(final)["Reconciling"]["status"], conditions(final)["Stalled"]["status"]) == (
        "False",
        "False",
    )


def test_checkpoint_killed_after_the_snapshot_was_accepted(restores: RestoreHarness) -> None:
    h = restores.h
    project = h.create_project()
    crashing = h.start_operator(NEON_CHECKPOINTS_CRASH_AFTER="snapshot-accepted")
    assert h.apply(h.example("checkpoint.yaml", project)).returncode == 0
    assert crashing.wait_exit(timeout=60) == 137, crashing.log()
    crashed = h.get("checkpoint", "v1")
    assert conditions(crashed)["Reconciling"]["status"] == "True"  # what the dead operator left
    time.sleep(STALL_AFTER + 0.5)

    h.start_operator(NEON_CHECKPOINTS_STALL_AFTER=str(STALL_AFTER))
    samples = watch_until_done(lambda: h.get("checkpoint", "v1"))
    assert_never_reconciling_too_long_without_stalled(crashed, samples)
    assert any(e["reason"] == "Interrupted" and e["type"] == "Warning" for e in h.events("v1"))


def test_restore_killed_after_neon_accepted_it(restores: RestoreHarness) -> None:
    h = restores.h
    project = h.create_project()
    first = h.start_operator(NEON_CHECKPOINTS_CRASH_AFTER="restore-accepted")
    restores.checkpoint(project, "v1", "c1")
    restores.restore("back-to-v1", "v1")
    assert first.wait_exit(timeout=60) == 137, first.log()
    crashed = h.get("checkpointrestore", "back-to-v1")
    assert crashed["status"]["phase"] == "Restoring"
    assert conditions(crashed)["Reconciling"]["status"] == "True"
    time.sleep(STALL_AFTER + 0.5)

    h.start_operator(NEON_CHECKPOINTS_STALL_AFTER=str(STALL_AFTER))
    samples = watch_until_done(lambda: h.get("checkpointrestore", "back-to-v1"))
    assert_never_reconciling_too_long_without_stalled(crashed, samples)
    assert any(e["reason"] == "Interrupted" and e["type"] == "Warning" for e in h.events("back-to-v1"))
