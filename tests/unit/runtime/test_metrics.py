"""The operator's metrics: route templates keep labels bounded, the observer counts what a client sent, and a
Checkpoint flow (flowkit: fake Neon at the network edge, the real meta store) moves the counters by exactly
the requests it made, with no id or name in any label."""

from __future__ import annotations

import logging
from collections import Counter

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from neon_api import AsyncNeonClient, RetryPolicy, route_template
from neon_checkpoints.checkpoint.flow import CheckpointFlow
from neon_checkpoints.names import CHECKPOINTS
from neon_checkpoints.runtime.metrics import Metrics, metric_names, status_class
from neon_checkpoints.settings import Settings, SettingsError
from tests.unit.flowkit import World

ENV = {"NEON_API_KEY": "k", "META_DATABASE_URL": "postgresql://x/y"}


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/projects", "/projects"),
        ("/projects/p-1", "/projects/{project_id}"),
        ("/projects/p-1/branches/br-2/snapshot", "/projects/{project_id}/branches/{branch_id}/snapshot"),
        ("/projects/p-1/snapshots/snap-3/restore", "/projects/{project_id}/snapshots/{snapshot_id}/restore"),
        ("/projects/p-1/operations/op-4", "/projects/{project_id}/operations/{operation_id}"),
        (
            "/projects/p-1/branches/br-2/roles/app%20owner/reveal_password",
            "/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reveal_password",
        ),
        ("/projects/p-1/connection_uri", "/projects/{project_id}/connection_uri"),
        ("/users/me", "/users/me"),
    ],
)
def test_route_templates_hold_no_ids(path: str, template: str) -> None:
    assert route_template(path) == template


def test_status_classes() -> None:
    assert [status_class(s) for s in (200, 201, 404, 429, 503, None)] == [
        "2xx",
        "2xx",
        "4xx",
        "4xx",
        "5xx",
        "error",
    ]


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_the_observer_counts_attempts_retries_and_429s() -> None:
    answers = iter([httpx.Response(429, json={"message": "slow down"}, headers={"Retry-After": "0"})])

    def handle(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(200, json={"project": {"id": "p-1"}}))

    metrics = Metrics()
    transport = httpx.MockTransport(handle)
    async with AsyncNeonClient(
        "http://neon/api/v2", "key", transport=transport, retry=RetryPolicy(max_elapsed=5), observer=metrics
    ) as client:
        await client._run(_get("/projects/p-1"))
    got = samples(metrics)
    route = ("route", "/projects/{project_id}")
    assert (
        got[("neon_checkpoints_neon_requests_total", (("method", "GET"), route, ("status_class", "4xx")))]
        == 1
    )
    assert (
        got[("neon_checkpoints_neon_requests_total", (("method", "GET"), route, ("status_class", "2xx")))]
        == 1
    )
    assert got[("neon_checkpoints_neon_rate_limited_total", (("method", "GET"), route))] == 1
    assert got[("neon_checkpoints_neon_retries_total", (("cause", "429"), ("method", "GET"), route))] == 1


def _get(path: str):  # type: ignore[no-untyped-def]
    from neon_api.protocol import Request, send

    response = yield from send(Request("GET", path))
    return response.status


@pytest.mark.postgres
async def test_a_checkpoint_moves_the_counters_by_exactly_its_requests(world: World) -> None:
    project = world.neon.project()
    world.kube.apply(
        CHECKPOINTS, "Checkpoint", "v1", {"projectId": project.id, "branch": "production"}, uid="u-1"
    )
    body = world.kube.body_of(CHECKPOINTS, "v1")

    await CheckpointFlow(world.runtime, body, logging.getLogger("test")).create()

    sent = Counter((s.method, route_template(s.path)) for s in world.calls.sent)
    got = samples(world.runtime.metrics)
    counted = {
        (dict(labels)["method"], dict(labels)["route"]): value
        for (name, labels), value in got.items()
        if name == "neon_checkpoints_neon_requests_total"
    }
    assert counted == {key: float(n) for key, n in sent.items()}
    assert got[("neon_checkpoints_checkpoint_duration_seconds_count", ())] == 1
    assert got[("neon_checkpoints_project_lock_wait_seconds_count", (("outcome", "acquired"),))] == 1
    # The fake's snapshot: two operations, waited for together (the action label is their sorted actions).
    waited = (("action", "create_branch+timeline_archive"),)
    assert got[("neon_checkpoints_neon_operation_wait_seconds_count", waited)] == 1
    # Bounded labels: nothing of the project, the branch or the resource.
    text = generate_latest(world.runtime.metrics.registry).decode()
    assert project.id not in text and "production" not in text and "u-1" not in text


def test_every_metric_has_the_prefix_and_base_units() -> None:
    names = metric_names(Metrics())
    assert names and all(n.startswith("neon_checkpoints_") for n in names)
    assert not any("_ms" in n or "milliseconds" in n for n in names)
    assert "neon_checkpoints_budget_wait_seconds_count" in names


def test_metrics_port_setting() -> None:
    assert Settings.from_env(ENV).metrics_port is None
    configured = Settings.from_env({**ENV, "NEON_CHECKPOINTS_METRICS_PORT": "9090"})
    assert (configured.metrics_port, configured.metrics_address) == (9090, "0.0.0.0")
    with pytest.raises(SettingsError, match="NEON_CHECKPOINTS_METRICS_PORT"):
        Settings.from_env({**ENV, "NEON_CHECKPOINTS_METRICS_PORT": "http"})


def test_served_on_metrics() -> None:
    metrics = Metrics()
    port = metrics.serve(0, "127.0.0.1")
    try:
        metrics.census.seen("Checkpoint", "uid-a", "Ready")
        metrics.census.seen("Checkpoint", "uid-b", "Ready")
        metrics.census.seen("Checkpoint", "uid-b", None, deleted=True)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        metrics.close()
    assert 'neon_checkpoints_resources{kind="Checkpoint",phase="Ready"} 1.0' in text
