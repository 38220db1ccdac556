"""A standby that takes over (issue 16 item 4): two operators with kopf peering on one namespace, the active
one (higher priority) killed -9 in the middle of a burst of checkpoints and restores; the standby finishes
every one with no duplicate snapshot, no double restore and no lost meta row, and the takeover is timed.
Also two operators on disjoint namespaces against one Neon project: the project lock serialises them."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from devenv.operator_process import OperatorProcess, start_operator
from devenv.processes import free_port
from tests.e2e.checkpoint.conftest import Harness
from tests.e2e.restore.conftest import RestoreHarness

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres, pytest.mark.slow]

RESUMED = "Resuming operations after the pause"  # kopf's log line when a paused peer starts working
LIFETIME = 4  # seconds a silent peer still counts as alive: the takeover time's lower bound


def peer(h: Harness, log: Path, priority: int, **settings: str) -> OperatorProcess:
    port = free_port()
    operator = start_operator(
        neon_api_url=h.emulator.url,
        neon_api_key=h.emulator.api_key,
        meta_database_url=h.meta_dsn,
        kubeconfig=h.kube.kubeconfig,
        log_path=log,
        args=[
            "operator",
            "--namespace",
            h.namespace,
            "--liveness",
            f"http://127.0.0.1:{port}/healthz",
            "--peering",
        ],
        health_port=port,
        settings={
            "LOG_LEVEL": "INFO",
            "NEON_CHECKPOINTS_TENANCY": "open",  # as tests/support/operator.py: tenancy has its own tests
            "PEERING_PRIORITY": str(priority),
            "PEERING_LIFETIME": str(LIFETIME),
            **settings,
        },
    )
    h.operators.started.append(operator)
    return operator


def posts(h: Harness, suffix: str) -> int:
    with h.emulator.admin() as admin:
        routes: dict[str, int] = admin.get("/requests").json()["routes"]
    return sum(n for route, n in routes.items() if route.startswith("POST ") and route.endswith(suffix))


def test_the_standby_finishes_a_burst_after_the_active_replica_is_killed(
    restores: RestoreHarness, tmp_path: Path
) -> None:
    h = restores.h
    h.apply(
        json.dumps(
            {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "neon-checkpoints"}}
        )
    )
    projects = [h.create_project() for _ in range(2)]
    active = peer(h, tmp_path / "active.log", 200)
    standby = peer(h, tmp_path / "standby.log", 100)
    # Two Ready checkpoints to restore from, made by the active replica.
    for i, project in enumerate(projects):
        restores.checkpoint(project, f"base-{i}", f"c0ffee{i}")
    # Peering is mandatory, so each starts paused; only the highest priority resumes.
    assert RESUMED in active.log() and RESUMED not in standby.log(), standby.log()[-2000:]

    names = [f"b{i:02d}" for i in range(12)]
    documents = [
        h.example("checkpoint.yaml", projects[i % 2], **{"name: v1": f"name: {name}", "3f2c9e1": f"b{i:05d}"})
        for i, name in enumerate(names)
    ]
    assert h.apply("\n---\n".join(documents)).returncode == 0
    for i in range(2):
        restores.restore(f"back-{i}", f"base-{i}")
    # Mid-burst: as soon as some, not all, of the burst's checkpoints are Ready.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        phases = [h.get("checkpoint", n).get("status", {}).get("phase") for n in names]
        if 0 < phases.count("Ready") < len(names):
            break
        time.sleep(0.05)
    assert RESUMED not in standby.log(), "the standby did nothing before the kill"
    active.kill()
    killed_at, killed_wall = time.monotonic(), time.time()
    ready_at_kill = phases.count("Ready")

    for name in names:
        h.wait_ready(name, timeout=120)
    for i in range(2):
        assert restores.wait_restore(f"back-{i}", timeout=120)["status"]["phase"] == "Succeeded"
    done = time.monotonic() - killed_at
    resumed = next(
        line for line in standby.log().splitlines() if "Resuming operations after the pause" in line
    )
    resumed_at = dt.datetime.strptime(resumed[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    takeover = resumed_at - killed_wall
    print(
        f"killed -9 with {ready_at_kill}/{len(names)} Ready; the standby resumed {takeover:.1f} s later "
        f"(peering lifetime {LIFETIME} s); all done {done:.1f} s after the kill"
    )
    assert ready_at_kill < len(names) and 0 < takeover < 4 * LIFETIME

    # No duplicate snapshot, no double restore, no lost meta row.
    items = [h.get("checkpoint", n) for n in [*names, "base-0", "base-1"]]
    for project in projects:
        expected = sorted(f"ckpt-{i['metadata']['uid']}" for i in items if i["spec"]["projectId"] == project)
        assert h.snapshot_names(project) == expected
    rows = h.meta_rows()
    assert sorted(r["uid"] for r in rows) == sorted(i["metadata"]["uid"] for i in items)
    assert len({r["snapshot_id"] for r in rows}) == len(items)
    assert posts(h, "/restore") == 2, "each restore was sent to Neon once"
    assert [r["phase"] for r in restores.restores()] == ["Succeeded", "Succeeded"]


def test_two_operators_on_disjoint_namespaces_share_one_project(
    restores: RestoreHarness, tmp_path: Path
) -> None:
    h = restores.h
    project = h.create_project()
    other_ns = f"{h.namespace}-b"
    h.kube.kubectl("create", "namespace", other_ns)
    try:
        h.start_operator()  # watches h.namespace
        h.operators.start(other_ns)
        documents = [
            h.example("checkpoint.yaml", project, **{"name: v1": f"name: s{i}", "3f2c9e1": f"d{i:05d}"})
            for i in range(6)
        ]
        for ns in (h.namespace, other_ns):
            applied = h.kube.kubectl(
                "-n", ns, "apply", "-f", "-", input="\n---\n".join(documents), check=False
            )
            assert applied.returncode == 0, applied.stderr
        for ns in (h.namespace, other_ns):
            waited = h.kube.kubectl(
                "-n", ns, "wait", "--for=condition=Ready", "checkpoint", "--all", "--timeout=120s",
                check=False, timeout=150,
            )  # fmt: skip
            assert waited.returncode == 0, waited.stderr + h.operator_logs()
        rows = h.meta_rows()
        assert len(rows) == 12 and len({r["snapshot_id"] for r in rows}) == 12
        assert len(h.snapshot_names(project)) == 12
        # One timeline: the project's checkpoints form one chain across both operators.
        assert sum(r["parent_checkpoint_id"] is None for r in rows) == 1
    finally:
        h.kube.kubectl(
            "-n", other_ns, "patch", "checkpoints", "--all", "--type=merge",
            "-p", '{"metadata":{"finalizers":null}}', check=False, timeout=30,
        )  # fmt: skip
        h.kube.kubectl("delete", "namespace", other_ns, "--wait=false", check=False)
