"""Checkpoints at fleet scale inside Neon's rate limits, end to end (tests/bench/harness.py): 100 Checkpoints
over 10 projects, then 1,000 over 100 (--quick: 10 over 2, then 100 over 20), each size created all at once
on a fresh operator and namespace. The emulator enforces Neon's published limits (700 requests a minute,
40 a second per route: `rate_limit` 700/40) and the operator's client-side budget is set to the same
(NEON_API_BUDGET_PER_MINUTE=700, NEON_API_BUDGET_PER_ROUTE_PER_SECOND=40; the default for Neon's URL, off
for other URLs). Reported per size, then as the ratio of the larger size to the smaller one:

- created -> Ready p50 / p95 (own watch; includes the per-project queue and the wait for budget);
- Neon API requests per checkpoint (counted when all are Ready: schema captures still queued are not in it),
  also without the ones only each project's first checkpoint makes (ONCE_ROUTES), and the share answered
  429 by the emulator's limit (target < 1 %);
- checkpoints that failed (target 0) and checkpoints whose status said they waited for budget;
- the operator's peak RSS (target < 150 MB) and the CPU seconds it used.

No warm-up: each project's first checkpoint looks its branch up, as in production after a restart. The
operator keeps its other defaults, MAX_CONCURRENT_RECONCILES (50) included: the bound that keeps its memory
from growing with the burst (README, "Scale").
`BENCH_SCALE_SIZES="30:3,300:30"` (checkpoints:projects, smaller first) runs other sizes, e.g. one whose
requests exceed the 700 a minute, so that the minute's limit binds on a machine too small for 1,000.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from neon_checkpoints.names import CHECKPOINTS, GROUP, VERSION
from tests.bench import BenchOptions, format_table
from tests.bench.harness import Cluster, PhaseWatch, cluster, cpu_seconds, peak_rss_kib, percentile

NEON_LIMITS = {"per_minute": 700, "per_route_per_second": 40}
OPERATOR_ENV = {
    "META_DATABASE_POOL_SIZE": "30",
    "NEON_API_BUDGET_PER_MINUTE": str(NEON_LIMITS["per_minute"]),
    "NEON_API_BUDGET_PER_ROUTE_PER_SECOND": str(NEON_LIMITS["per_route_per_second"]),
}
BUDGET_MESSAGE = "request budget"  # in a Checkpoint's status message while it waits for budget
CREATORS = 8  # threads creating the Checkpoints
REQUESTS_BOUND = 8  # requests per checkpoint the wait allows for (the schema capture's included)


@dataclass(frozen=True)
class Size:
    checkpoints: int
    projects: int


# What a project's first checkpoint asks and the next ones find remembered: the branch id by name, the
# database names, and the first schema capture's full read (later captures compare with it). With few
# checkpoints per project (5 in --quick, 10 in the full run) they weigh on the average.
ONCE_ROUTES = ("/branches", "/databases", "/schema")


@dataclass(frozen=True)
class Result:
    size: Size
    latencies: list[float]  # created -> Ready, s
    requests: int
    once_per_project: int  # requests a project's first checkpoint makes and later ones do not (ONCE_ROUTES)
    refused_429: int
    failed: int
    waited_for_budget: int
    peak_rss_kib: int
    operator_cpu: float
    wall: float


def _checkpoint(name: str, project: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Checkpoint",
        "metadata": {"name": name},
        "spec": {"projectId": project, "branch": "production", "deletionPolicy": "Retain"},
    }


def _run(env: Cluster, size: Size) -> Result:
    projects = env.create_projects(size.projects)
    namespace = f"bench-scale-{size.checkpoints}"
    env.create_namespace(namespace)
    operator = env.start_operator(namespace, **OPERATOR_ENV)
    watcher = PhaseWatch(env.api, namespace, CHECKPOINTS, "Ready")
    with env.emulator.admin() as admin:
        admin.put("/faults", json={"rate_limit": NEON_LIMITS}).raise_for_status()
    env.reset_requests()
    try:
        cpu_before = cpu_seconds(operator.pid)
        sent: dict[str, float] = {}

        def create(i: int) -> None:
            name = f"ckpt-{i:04d}"
            sent[name] = time.time()
            env.api.create_namespaced_custom_object(
                GROUP, VERSION, namespace, CHECKPOINTS, _checkpoint(name, projects[i % size.projects])
            )

        # A few at a time: 1,000 one after another took longer than the operator needs for the first ones.
        with ThreadPoolExecutor(CREATORS) as pool:
            list(pool.map(create, range(size.checkpoints)))
        # Bound by the budget: up to REQUESTS_BOUND requests per checkpoint at 700 a minute, plus slack.
        timeout = 120.0 + size.checkpoints * REQUESTS_BOUND / (NEON_LIMITS["per_minute"] / 60)
        try:
            watcher.wait(list(sent), timeout=timeout)
        except RuntimeError as failed:  # some ended Failed: counted below
            print(f"  {str(failed)[:300]}", file=sys.stderr)
        with env.emulator.admin() as admin:
            counters = admin.get("/requests").json()
        peak_rss = peak_rss_kib(operator.pid)
        operator_cpu = cpu_seconds(operator.pid) - cpu_before
    except Exception:
        print(f"operator log ({namespace}), last lines:\n{operator.log_tail()}", file=sys.stderr)
        raise
    finally:
        watcher.stop()
        operator.stop()
        with env.emulator.admin() as admin:
            admin.post("/reset-faults").raise_for_status()
    final = watcher.final
    latencies = [seen - sent[name] for name, (phase, seen, _) in final.items() if phase == "Ready"]
    return Result(
        size,
        latencies,
        requests=sum(counters["requests"].values()),
        once_per_project=sum(n for route, n in counters["requests"].items() if route.endswith(ONCE_ROUTES)),
        refused_429=int(counters["refused"].get("429", 0)),
        failed=sum(1 for phase, _, _ in final.values() if phase != "Ready"),
        waited_for_budget=sum(1 for messages in watcher.messages.values() if BUDGET_MESSAGE in messages),
        peak_rss_kib=peak_rss,
        operator_cpu=operator_cpu,
        wall=max((seen for _, seen, _ in final.values()), default=time.time()) - min(sent.values()),
    )


def _cells(r: Result) -> dict[str, float]:
    n = r.size.checkpoints
    return {
        "created -> Ready p50 s": statistics.median(r.latencies) if r.latencies else float("nan"),
        "created -> Ready p95 s": percentile(r.latencies, 0.95) if r.latencies else float("nan"),
        "all Ready after s": r.wall,
        "API requests per checkpoint": r.requests / n,
        "  without each project's one-time requests": (r.requests - r.once_per_project) / n,
        "429s, % of requests": 100 * r.refused_429 / max(1, r.requests),
        "checkpoints failed": r.failed,
        "checkpoints that waited for budget": r.waited_for_budget,
        "operator peak RSS MiB": r.peak_rss_kib / 1024,
        "operator CPU s": r.operator_cpu,
        "operator CPU ms per checkpoint": 1000 * r.operator_cpu / n,
    }


TARGETS = {
    "  without each project's one-time requests": "<= 3",
    "429s, % of requests": "< 1",
    "checkpoints failed": "0",
    "operator peak RSS MiB": "< 150",
}


def run(options: BenchOptions) -> None:
    sizes = (Size(10, 2), Size(100, 20)) if options.quick else (Size(100, 10), Size(1000, 100))
    if os.environ.get("BENCH_SCALE_SIZES"):
        pairs = [part.split(":") for part in os.environ["BENCH_SCALE_SIZES"].split(",")]
        small, large = (Size(int(n), int(p)) for n, p in pairs)
        sizes = (small, large)
    load = os.getloadavg()[0]
    with cluster("bench-scale") as env:
        results = [_run(env, size) for size in sizes]
        storage = env.storage
    small, large = (_cells(r) for r in results)
    rows = []
    for measure, value in small.items():
        ratio = large[measure] / value if value else float("nan")
        rows.append(
            [measure, TARGETS.get(measure, ""), f"{value:.2f}", f"{large[measure]:.2f}", f"{ratio:.2f}x"]
        )
    titles = [f"{s.checkpoints} over {s.projects} projects" for s in sizes]
    print(
        f"Checkpoints created at once, emulator rate limit {NEON_LIMITS['per_minute']}/min and "
        f"{NEON_LIMITS['per_route_per_second']}/s per route, operator budget the same (1-min load average "
        f"before / after: {load:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; storage {storage}):"
    )
    print(format_table(["measure", "target", *titles, "growth"], rows))
