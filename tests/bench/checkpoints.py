"""Checkpoint controller under load, end to end: the real apiserver, the emulator (no injected latency, on
btrfs when the machine allows), a meta database and the operator run by kopf (tests/bench/harness.py).

100 Checkpoints over 10 projects (--quick: 20 over 4) are created through the API in three runs (RUNS): all
at once at the default operation-poll ceiling (NEON_OPERATION_POLL_INTERVAL 0.25 s) and at 0.05 s, then
arriving steadily, ten a second, at the default. Each run has a fresh operator on a fresh namespace over the
same projects (so the operator's learned polling pace starts empty). Reported per run:

- applied -> Ready: from just before each create request to the moment a watch on the namespace first sees
  phase Ready (own high-resolution observation; creationTimestamp and lastTransitionTime have whole-second
  resolution). Includes waiting for the project lock: checkpoints of one project are taken one at a time;
- last Neon op finished -> Ready: the Ready moment minus the latest `updated_at` of the snapshot's operations
  (GET /projects/{id}/operations): what the operator adds after Neon is done (target p50 under 100 ms);
- Neon snapshot operations: the emulator's own time for them (first `created_at` -> last `updated_at`);
- API requests per checkpoint: the emulator's request counters, reset before the burst, also per route,
  counted once every checkpoint's schema capture has succeeded (SchemaCaptured True): it is part of the cost,
  shown apart from the create's own (POST and operation polls: issue 16's figure) and added in the total;
  operation polls also per second of Neon operation time (the count per checkpoint grows with that time,
  which varies between runs on a busy machine);
- the operator's peak RSS (VmHWM) at the end of the run, and the CPU time the operator and the emulator
  used during the burst, and the round trip of an uncounted emulator request timed every 0.1 s meanwhile
  (what any poll waits on the emulator: on 2 cores it explains late polls).

First one warm-up Checkpoint per project is made Ready, so neither the operator's start-up nor a project's
first snapshot is in the figures.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from neon_checkpoints.names import CHECKPOINTS, GROUP, VERSION
from tests.bench import BenchOptions, format_table
from tests.bench.harness import (
    Cluster,
    PhaseWatch,
    RoundTripProbe,
    cluster,
    cpu_seconds,
    peak_rss_kib,
    percentile,
)


@dataclass(frozen=True)
class Run:
    """One column: how the Checkpoints arrive, and the operator's poll ceiling."""

    spacing: float  # seconds between two creates; 0: back to back, all at once
    poll_ceiling: float  # NEON_OPERATION_POLL_INTERVAL

    @property
    def title(self) -> str:
        arrival = "burst" if self.spacing == 0 else f"{1 / self.spacing:g}/s"
        default = " (default)" if self.poll_ceiling == DEFAULT_POLL_CEILING else ""
        return f"{arrival}, poll {self.poll_ceiling:g} s{default}"


DEFAULT_POLL_CEILING = 0.25
# A burst, all created at once (the per-project queues make most wait), at the default ceiling and a lower
# one; then the same count arriving steadily, as an agent platform's users would take them. On 2 cores a
# burst keeps every CPU busy (the operator and kube-apiserver about a third each), and every step of every
# flow waits for a turn: the steady run shows what the operator adds when it is not starved.
RUNS = (Run(0.0, DEFAULT_POLL_CEILING), Run(0.0, 0.05), Run(0.1, DEFAULT_POLL_CEILING))
OVERHEAD_TARGET_MS = 100
# Each flow holding a project lock pins a pooled connection, and every queued flow polls the lock through
# the pool: with the default 10 and 10 busy projects the holders cannot get a connection for their meta
# write and the burst stalls in PoolTimeout retries. Leave room, as the restores benchmark does.
OPERATOR_ENV = {"META_DATABASE_POOL_SIZE": "30"}


@dataclass(frozen=True)
class Burst:
    count: int
    latencies: list[float]  # applied -> Ready, s
    overheads: list[float]  # last Neon operation finished -> Ready, s
    notice_delays: list[float]  # last Neon operation finished -> the operator's last poll of it, s
    after_notice: list[float]  # that poll -> Ready, s
    operation_times: list[float]  # the emulator's time for the snapshot's operations, s
    wall: float  # first create sent -> last Ready seen, s
    routes: dict[str, int]  # API requests per route during the burst, schema captures included
    capture_delays: list[float]  # Ready -> SchemaCaptured=True, s
    peak_rss_kib: int
    operator_cpu: float  # CPU seconds the operator used during the burst
    emulator_cpu: float  # the same for the emulator's own process (its postgres servers not included)
    round_trips: list[float]  # an uncounted emulator request, timed every 0.1 s during the burst, s


def _checkpoint(name: str, project: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Checkpoint",
        "metadata": {"name": name},
        "spec": {"projectId": project, "branch": "production", "deletionPolicy": "Retain"},
    }


def _burst(env: Cluster, projects: list[str], count: int, run: Run) -> Burst:
    namespace = f"bench-checkpoints-{round(run.poll_ceiling * 1000)}ms-{round(run.spacing * 1000)}ms"
    env.create_namespace(namespace)
    operator = env.start_operator(
        namespace, **OPERATOR_ENV, NEON_OPERATION_POLL_INTERVAL=f"{run.poll_ceiling:g}"
    )
    watcher = PhaseWatch(env.api, namespace, CHECKPOINTS, "Ready", condition="SchemaCaptured")
    try:
        warm_up = [f"warm-up-{i}" for i in range(len(projects))]
        for name, project in zip(warm_up, projects, strict=True):
            env.api.create_namespaced_custom_object(
                GROUP, VERSION, namespace, CHECKPOINTS, _checkpoint(name, project)
            )
        watcher.wait(warm_up)
        watcher.wait_condition(warm_up)  # its capture's requests are not the run's
        env.reset_requests()
        cpu_before = cpu_seconds(operator.pid), cpu_seconds(env.emulator.process.pid)
        probe = RoundTripProbe(env.emulator)
        sent: dict[str, tuple[str, float]] = {}
        for i in range(count):
            if run.spacing and i:
                time.sleep(max(0.0, sent[f"ckpt-{i - 1:03d}"][1] + run.spacing - time.time()))
            name, project = f"ckpt-{i:03d}", projects[i % len(projects)]
            sent[name] = (project, time.time())
            env.api.create_namespaced_custom_object(
                GROUP, VERSION, namespace, CHECKPOINTS, _checkpoint(name, project)
            )
        try:
            found = watcher.wait(list(sent))
            # A Ready checkpoint's schema capture is part of its cost in requests.
            captured = watcher.wait_condition(list(sent))
        finally:
            round_trips = probe.stop()
        routes = env.request_routes()
        peak_rss = peak_rss_kib(operator.pid)
        operator_cpu = cpu_seconds(operator.pid) - cpu_before[0]
        emulator_cpu = cpu_seconds(env.emulator.process.pid) - cpu_before[1]
    except Exception:
        print(f"operator log ({namespace}), last lines:\n{operator.log_tail()}", file=sys.stderr)
        raise
    finally:
        watcher.stop()
        operator.stop()  # frees the CPU for the next run
    with env.neon() as neon:
        operations = {op.id: op for p in projects for op in neon.list_operations(p)}
    polled = _polls(env.emulator.log_path.read_text(errors="replace"))
    latencies: list[float] = []
    overheads: list[float] = []
    notice_delays: list[float] = []
    after_notice: list[float] = []
    operation_times: list[float] = []
    for name, (_, seen, obj) in found.items():
        latencies.append(seen - sent[name][1])
        ops = [operations[op["id"]] for op in obj["status"]["operations"]]
        finished: datetime = max(op.updated_at for op in ops)
        overheads.append(seen - finished.timestamp())
        project = obj["spec"]["projectId"]
        noticed = max(polled.noticed(project, op.id, op.updated_at.timestamp()) for op in ops)
        notice_delays.append(noticed - finished.timestamp())
        after_notice.append(seen - noticed)
        operation_times.append(finished.timestamp() - min(op.created_at for op in ops).timestamp())
    first_sent = min(at for _, at in sent.values())
    wall = max(seen for _, seen, _ in found.values()) - first_sent
    return Burst(
        count,
        latencies,
        overheads,
        notice_delays,
        after_notice,
        operation_times,
        wall,
        routes,
        [captured[name] - seen for name, (_, seen, _) in found.items()],
        peak_rss,
        operator_cpu,
        emulator_cpu,
        round_trips,
    )


_OPERATION_POLL = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO aiohttp\.access: "
    r"GET /api/v2/projects/([^/ ]+)/operations(?:/([^/? ]+) |\?)",
    re.MULTILINE,
)


@dataclass
class Polls:
    """From the emulator's access log (local time, ms): when each operation was last polled by its own
    GET, and when each project's operations were listed (a poll by listing)."""

    last_get: dict[str, float]
    listings: dict[str, list[float]]

    def noticed(self, project: str, op_id: str, finished: float) -> float:
        """The poll that saw the operation finished: its last GET, else the first listing after it
        finished (log times have ms resolution: allow that much)."""
        if op_id in self.last_get:
            return self.last_get[op_id]
        after = [t for t in self.listings.get(project, []) if t >= finished - 0.001]
        return min(after) if after else finished


def _polls(emulator_log: str) -> Polls:
    polls = Polls({}, {})
    for match in _OPERATION_POLL.finditer(emulator_log):
        moment = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if match[3]:
            polls.last_get[match[3]] = max(moment, polls.last_get.get(match[3], moment))
        else:
            polls.listings.setdefault(match[2], []).append(moment)
    return polls


def _ms(values: list[float], q: float) -> str:
    value = statistics.median(values) if q == 0.5 else percentile(values, q)
    return f"{1000 * value:.0f}"


def _summary(bursts: Sequence[Burst]) -> list[list[str]]:
    target = f"p50 < {OVERHEAD_TARGET_MS} ms"

    def row(measure: str, goal: str, cell: Any) -> list[str]:
        return [measure, goal, *(cell(b) for b in bursts)]

    return [
        row("applied -> Ready p50 ms", "", lambda b: _ms(b.latencies, 0.5)),
        row("applied -> Ready p95 ms", "", lambda b: _ms(b.latencies, 0.95)),
        row("last Neon op finished -> Ready p50 ms", target, lambda b: _ms(b.overheads, 0.5)),
        row("last Neon op finished -> Ready p95 ms", "", lambda b: _ms(b.overheads, 0.95)),
        row("  of which op finished -> last poll p50 ms", "", lambda b: _ms(b.notice_delays, 0.5)),
        row("  of which last poll -> Ready p50 ms", "", lambda b: _ms(b.after_notice, 0.5)),
        row("Neon snapshot operations p50 ms", "", lambda b: _ms(b.operation_times, 0.5)),
        row("Ready -> SchemaCaptured p50 ms", "", lambda b: _ms(b.capture_delays, 0.5)),
        row("API requests per checkpoint: its create", "<= 3", partial(_requests_cell, capture=False)),
        row("  + its schema capture (issue 15)", "", partial(_requests_cell, capture=True)),
        row("  all", "", lambda b: f"{sum(b.routes.values()) / b.count:.2f}"),
        row("operation polls per second of Neon op time", "", lambda b: f"{_poll_rate(b):.1f}"),
        row("operator peak RSS MiB", "", lambda b: f"{b.peak_rss_kib / 1024:.0f}"),
        row("all Ready after s", "", lambda b: f"{b.wall:.1f}"),
        row("operator CPU s in that time", "", lambda b: f"{b.operator_cpu:.1f}"),
        row("emulator CPU s in that time (w/o its postgres)", "", lambda b: f"{b.emulator_cpu:.1f}"),
        row("emulator round trip meanwhile p50 ms", "", lambda b: _ms(b.round_trips, 0.5)),
        row("emulator round trip meanwhile p95 ms", "", lambda b: _ms(b.round_trips, 0.95)),
    ]


OPERATION_ROUTES = ("/operations/{operation_id}", "/operations")
# The schema capture's routes (schema/capture.py): the create's are the rest.
CAPTURE_ROUTES = ("/compare_schema", "/schema", "/databases")


def _requests_cell(burst: Burst, *, capture: bool) -> str:
    """Requests per checkpoint of the create flow, or of the schema capture after Ready."""
    mine = [n for route, n in burst.routes.items() if route.endswith(CAPTURE_ROUTES) == capture]
    return f"{sum(mine) / burst.count:.2f}"


def _poll_rate(burst: Burst) -> float:
    """Operation GETs per checkpoint over the time its operations took: the ceiling's cost, independent of
    how fast the emulator happened to be in that run (the count per checkpoint grows with it)."""
    polls = sum(n for route, n in burst.routes.items() if route.split(" ", 1)[1].endswith(OPERATION_ROUTES))
    return polls / sum(burst.operation_times)


# Requests per checkpoint by route before issue 16's levers (`--quick`, main at 0e69e05, this machine;
# burst at the default ceiling / 10 a second): a branch lookup, a snapshot listing before the POST and one
# after the wait, and one GET per operation per poll.
BEFORE = {
    "GET /api/v2/projects/{project_id}/branches": (1.00, 1.00),
    "GET /api/v2/projects/{project_id}/snapshots": (2.00, 2.00),
    "POST /api/v2/projects/{project_id}/branches/{branch_id}/snapshot": (1.00, 1.00),
    "GET /api/v2/projects/{project_id}/operations/{operation_id}": (2.50, 4.35),
    "GET /api/v2/projects/{project_id}/operations": (0.00, 0.00),
}


def _per_route(bursts: Sequence[Burst]) -> list[list[str]]:
    seen = {r for b in bursts for r in b.routes} | set(BEFORE)
    routes = sorted(seen, key=lambda r: (r.split(" ", 1)[1], r))
    rows = [
        [
            route.replace("/api/v2", ""),
            "/".join(f"{n:.2f}" for n in BEFORE.get(route, (0.0, 0.0))),
            *(f"{b.routes.get(route, 0) / b.count:.2f}" for b in bursts),
        ]
        for route in routes
    ]
    before = "/".join(f"{sum(v[i] for v in BEFORE.values()):.2f}" for i in (0, 1))
    total = [f"{sum(b.routes.values()) / b.count:.2f}" for b in bursts]
    return [*rows, ["all routes", before, *total]]


def run(options: BenchOptions) -> None:
    count, spread = (20, 4) if options.quick else (100, 10)
    load = os.getloadavg()[0]
    with cluster("bench-checkpoints") as env:
        projects = env.create_projects(spread)
        bursts = [_burst(env, projects, count, run) for run in RUNS]
        storage = env.storage
    columns = [run.title for run in RUNS]
    print(
        f"{count} Checkpoints over {spread} projects, per arrival and poll ceiling (1-min load "
        f"average before / after: {load:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):"
    )
    settings = " ".join(f"{k}={v}" for k, v in OPERATOR_ENV.items())
    print(f"operator settings: {settings}; emulator storage: {storage}")
    print(format_table(["measure", "target", *columns], _summary(bursts)))
    print()
    headers = ["API requests per checkpoint, by route", "before #16: burst/10/s", *columns]
    print(format_table(headers, _per_route(bursts)))
