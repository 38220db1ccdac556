"""/metrics during the e2e story (issue 17 item 1): the operator run by kopf against the real apiserver and
the emulator, with a fifth of its Neon requests answered 429. Scraped before, between and after two
Checkpoints and a Finalize restore, the counters moved by exactly what happened: the emulator's own count of
requests per route (templated) equals the operator's, every 429 the emulator sent was counted and retried,
and the flows, durations, lock waits and phases add up to the resources applied."""

from __future__ import annotations

import collections

import pytest

from devenv.processes import free_port
from neon_api import route_template
from tests.e2e.checkpoint.conftest import Harness, eventually
from tests.e2e.observability.conftest import Samples, scrape, total
from tests.e2e.restore.conftest import RestoreHarness

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]

PREFIX = "/api/v2"


def emulator_requests(restores: RestoreHarness) -> dict[tuple[str, str], float]:
    """What the emulator answered since its counters were reset, by method and route template."""
    with restores.h.emulator.admin() as admin:
        counted: dict[str, int] = admin.get("/requests").json()["requests"]
    by_route: collections.Counter[tuple[str, str]] = collections.Counter()
    for key, n in counted.items():
        method, path = key.split(" ", 1)
        by_route[(method, route_template(path.removeprefix(PREFIX)))] += n
    return dict(by_route)


def operator_requests(samples: Samples) -> dict[tuple[str, str], float]:
    routes: collections.Counter[tuple[str, str]] = collections.Counter()
    for (name, labels), value in samples.items():
        if name == "neon_checkpoints_neon_requests_total" and value:
            have = dict(labels)
            routes[(have["method"], have["route"])] += value
    return dict(routes)


def refused_429(restores: RestoreHarness) -> int:
    with restores.h.emulator.admin() as admin:
        return int(admin.get("/requests").json()["refused"].get("429", 0))


def schema_captured(h: Harness, name: str) -> None:
    def captured() -> bool:
        conditions = h.get("checkpoint", name).get("status", {}).get("conditions", [])
        return any(c["type"] == "SchemaCaptured" and c["status"] == "True" for c in conditions)

    eventually(captured, timeout=60, what=f"SchemaCaptured=True on {name}", h=h)


def test_counters_move_by_exactly_what_happened(restores: RestoreHarness) -> None:
    h = restores.h
    project = h.create_project()
    with h.emulator.admin() as admin:
        admin.post("/reset-requests").raise_for_status()
    h.set_faults(
        {"seed": 17, "rules": [{"path": "/api/v2/*", "status": 429, "rate": 0.2, "retry_after": 0.05}]}
    )
    port = free_port()
    h.start_operator(NEON_CHECKPOINTS_METRICS_PORT=str(port), NEON_CHECKPOINTS_METRICS_ADDRESS="127.0.0.1")
    url = f"http://127.0.0.1:{port}/metrics"

    before = scrape(url)
    assert operator_requests(before) == {}
    assert total(before, "neon_checkpoints_reconcile_total") == 0

    restores.checkpoint(project, "v1", "c1")
    restores.checkpoint(project, "v2", "c2")
    for name in ("v1", "v2"):
        # The schema is captured after Ready: settle it first, or a capture in flight is counted by the
        # emulator (on arrival) and not yet by the operator (on answer).
        schema_captured(h, name)
    middle = scrape(url)
    assert operator_requests(middle) == emulator_requests(restores)
    assert total(middle, "neon_checkpoints_reconcile_total", kind="Checkpoint", result="success") == 2
    assert total(middle, "neon_checkpoints_checkpoint_duration_seconds_count") == 2
    assert total(middle, "neon_checkpoints_resources", kind="Checkpoint", phase="Ready") == 2

    restores.restore("back-to-v1", "v1")
    restores.wait_restore("back-to-v1")
    after = scrape(url)
    h.reset_faults()
    happened = emulator_requests(restores)
    assert operator_requests(after) == happened
    assert ("POST", "/projects/{project_id}/snapshots/{snapshot_id}/restore") in happened
    refused = refused_429(restores)
    assert refused > 0, "the faults never fired: the 429 counters were not tested"
    assert total(after, "neon_checkpoints_neon_rate_limited_total") == refused
    assert total(after, "neon_checkpoints_neon_retries_total", cause="429") == refused
    assert total(after, "neon_checkpoints_neon_requests_total", status_class="4xx") == refused
    assert total(after, "neon_checkpoints_reconcile_total", kind="CheckpointRestore", result="success") == 1
    assert total(after, "neon_checkpoints_restore_duration_seconds_count", mode="Finalize") == 1
    assert total(after, "neon_checkpoints_resources", kind="CheckpointRestore", phase="Succeeded") == 1
    # One lock per flow: two checkpoints and the restore, each acquired once.
    assert total(after, "neon_checkpoints_project_lock_wait_seconds_count", outcome="acquired") == 3
    # Each flow waited for its Neon operations once.
    assert total(after, "neon_checkpoints_neon_operation_wait_seconds_count") == 3
    assert total(after, "neon_checkpoints_reconcile_errors_total") == 0
    assert total(after, "neon_checkpoints_meta_database_errors_total") == 0
    # Nothing of the project or the resources in any label.
    text = "".join(str(labels) for _, labels in after)
    assert project not in text and "v1" not in text and "back-to-v1" not in text
