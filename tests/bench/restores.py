"""CheckpointRestore latency and per-project serialization, end to end: the real apiserver, the emulator (no
injected latency), a meta database and the operator run by kopf, as in the e2e tests.

- applied-to-Succeeded: a Finalize restore created through the API until a watch sees phase Succeeded
  (one at a time, on one project; p50/p95);
- bookkeeping delay: from the moment the restore's LAST Neon operation finished (the emulator's
  `updated_at`) to the watch seeing Succeeded: what the operator adds after Neon is done (target p50 under
  200 ms);
- 10 concurrent restores on 10 projects versus 10 on one project (serialized by the project lock): wall time
  until all are Succeeded, and the ratio.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from devenv.operator_process import OperatorProcess
from neon_checkpoints.names import CHECKPOINT_RESTORES, CHECKPOINTS, GROUP, VERSION
from tests.bench import BenchOptions, format_table
from tests.bench.harness import TIMEOUT, Cluster, PhaseWatch, cluster, percentile

NAMESPACE = "bench-restores"


@dataclass
class Environment:
    cluster: Cluster
    operator: OperatorProcess
    _names: Iterator[int] = field(default_factory=lambda: iter(range(1, 1_000_000)))

    @property
    def api(self) -> client.CustomObjectsApi:
        return self.cluster.api

    def project_with_checkpoint(self) -> tuple[str, str]:
        """A new emulator project and a Ready Checkpoint of its production branch; returns (project, name)."""
        project = self.cluster.create_projects(1)[0]
        name = f"ckpt-{next(self._names)}"
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Checkpoint",
            "metadata": {"name": name},
            "spec": {"projectId": project, "branch": "production", "deletionPolicy": "Retain"},
        }
        self.api.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, CHECKPOINTS, body)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            got: Any = self.api.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, CHECKPOINTS, name)
            phase = (got.get("status") or {}).get("phase")
            if phase == "Ready":
                return project, name
            if phase == "Failed":
                raise RuntimeError(f"checkpoint {name} failed: {got['status'].get('message')}")
            time.sleep(0.05)
        raise TimeoutError(f"checkpoint {name} not Ready; see {self.operator.log_path}")

    def restore(self, checkpoint: str) -> tuple[str, float]:
        """Create a Finalize restore; returns its name and the wall-clock moment it was sent."""
        name = f"restore-{next(self._names)}"
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "CheckpointRestore",
            "metadata": {"name": name},
            "spec": {"checkpointRef": {"name": checkpoint}, "mode": "Finalize"},
        }
        sent = time.time()
        self.api.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, CHECKPOINT_RESTORES, body)
        return name, sent

    def last_operation_finished(self, project: str, restore: dict[str, Any]) -> float:
        with self.cluster.neon() as neon:
            ops = [neon.get_operation(project, op["id"]) for op in restore["status"]["operations"]]
        return max(op.updated_at for op in ops).timestamp()


@contextlib.contextmanager
def environment() -> Iterator[Environment]:
    with cluster("bench-restores") as c:
        c.create_namespace(NAMESPACE)
        # Each flow holding a project lock pins one pooled connection: leave room for the writes.
        operator = c.start_operator(NAMESPACE, META_DATABASE_POOL_SIZE="30", PROJECT_LOCK_WAIT="60")
        yield Environment(c, operator)


def _sequential(env: Environment, watcher: PhaseWatch, count: int) -> tuple[list[float], list[float]]:
    project, checkpoint = env.project_with_checkpoint()
    latencies, delays = [], []
    for _ in range(count):
        name, sent = env.restore(checkpoint)
        _, seen, obj = watcher.wait([name])[name]
        latencies.append(seen - sent)
        delays.append(seen - env.last_operation_finished(project, obj))
    return latencies, delays


def _concurrent(env: Environment, watcher: PhaseWatch, checkpoints: list[str]) -> float:
    started = time.time()
    names = [env.restore(c)[0] for c in checkpoints]
    found = watcher.wait(names)
    return max(seen for _, seen, _ in found.values()) - started


def run(options: BenchOptions) -> None:
    samples = 5 if options.quick else 20
    fan = 4 if options.quick else 10
    with environment() as env:
        watcher = PhaseWatch(env.api, NAMESPACE, CHECKPOINT_RESTORES, "Succeeded")
        try:
            latencies, delays = _sequential(env, watcher, samples)
            spread = [env.project_with_checkpoint()[1] for _ in range(fan)]
            _, one = env.project_with_checkpoint()
            parallel = _concurrent(env, watcher, spread)
            serialized = _concurrent(env, watcher, [one] * fan)
        finally:
            watcher.stop()
    print(f"emulator storage: {env.cluster.storage}")
    ms = [f"{1000 * statistics.median(latencies):.0f}", f"{1000 * percentile(latencies, 0.95):.0f}"]
    delay = [f"{1000 * statistics.median(delays):.0f}", f"{1000 * percentile(delays, 0.95):.0f}"]
    print(
        format_table(
            ["measure", "n", "p50 ms", "p95 ms"],
            [
                ["restore applied -> Succeeded", str(samples), *ms],
                ["last Neon op finished -> Succeeded", str(samples), *delay],
            ],
        )
    )
    print()
    print(
        format_table(
            ["concurrent restores", "n", "wall s"],
            [
                [f"{fan} projects, one restore each", str(fan), f"{parallel:.2f}"],
                [f"one project, {fan} restores (serialized)", str(fan), f"{serialized:.2f}"],
            ],
        )
    )
    print(f"serialized / parallel wall time: {serialized / parallel:.2f}x")
