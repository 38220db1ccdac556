"""One mutating flow per Neon project at a time (issue 5 item 4): a second restore and a checkpoint on the
same project wait in phase Queued and proceed after; a restore on another project runs in parallel."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.e2e.restore.conftest import RestoreHarness

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]


def interval(status: dict[str, str]) -> tuple[dt.datetime, dt.datetime]:
    def parse(value: str) -> dt.datetime:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))

    return parse(status["startedAt"]), parse(status["completedAt"])


def test_same_project_queues_other_projects_run_in_parallel(restores: RestoreHarness) -> None:
    h = restores.h
    busy, other = h.create_project(), h.create_project()
    h.start_operator()
    restores.checkpoint(busy, "a1", "a1")
    restores.checkpoint(other, "b1", "b1")
    # Every Neon operation now takes a while, so the flows overlap in time.
    h.set_faults({"operation_delay": 0.7})

    restores.restore("a-first", "a1")
    restores.restore("a-second", "a1")
    restores.restore("b-only", "b1")
    applied = h.apply(h.example("checkpoint.yaml", busy, **{"name: v1": "name: a2"}))
    assert applied.returncode == 0, applied.stderr

    done = {
        name: restores.wait_restore(name, timeout=120)["status"] for name in ("a-first", "a-second", "b-only")
    }
    h.wait_ready("a2", timeout=120)

    # On the busy project the two restores ran one after the other, and one of them was Queued first.
    first, second = sorted((interval(done["a-first"]), interval(done["a-second"])))
    assert first[1] <= second[0], f"restores on one project overlapped: {first} {second}"
    queued = [n for n in ("a-first", "a-second") if "Queued" in {e["reason"] for e in h.events(n)}]
    assert queued, "the second restore on the project never showed phase Queued"
    assert "Queued" in {e["reason"] for e in h.events("a2")}, "the checkpoint did not wait its turn"
    # The other project did not wait for the busy one: its restore overlapped the first busy one.
    b_start, b_end = interval(done["b-only"])
    assert b_start < first[1] and first[0] < b_end, f"no parallelism: {first} vs {(b_start, b_end)}"
    assert "Queued" not in {e["reason"] for e in h.events("b-only")}
    # Chained on the same project: the second restore replaced the branch the first one made.
    by_start = sorted(done.values(), key=lambda s: s["startedAt"])
    busy_restores = [s for s in by_start if s is not done["b-only"]]
    assert busy_restores[1]["replacedBranchId"] == busy_restores[0]["restoredBranchId"]
    assert restores.branches(busy)["production"].id == busy_restores[1]["restoredBranchId"]
