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
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from kubernetes import client, config, watch

from hack.localcluster import KubeControlPlane, PostgresCluster
from neon_api import NeonClient
from neon_checkpoints.resources import CHECKPOINT_RESTORES, CHECKPOINTS, GROUP, VERSION
from tests.bench import BenchOptions, format_table
from tests.fixtures.emulator import EmulatorServer, start_emulator

REPO = Path(__file__).resolve().parents[2]
OPERATOR = REPO / ".venv" / "bin" / "neon-checkpoints"
NAMESPACE = "bench-restores"
TIMEOUT = 180.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class PhaseWatch:
    """From a watch stream: the wall-clock moment each CheckpointRestore first shows a final phase."""

    def __init__(self, api: client.CustomObjectsApi) -> None:
        self._api = api
        self.final: dict[str, tuple[str, float, dict[str, Any]]] = {}
        self._changed = threading.Condition()
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(Exception):  # ends when stop() closes the stream
            for event in self._watch.stream(  # type: ignore[no-untyped-call]
                self._api.list_namespaced_custom_object,
                GROUP,
                VERSION,
                NAMESPACE,
                CHECKPOINT_RESTORES,
                timeout_seconds=3600,
            ):
                seen = time.time()
                obj = event["object"]
                phase = (obj.get("status") or {}).get("phase")
                name = obj["metadata"]["name"]
                if phase in ("Succeeded", "Failed") and name not in self.final:
                    with self._changed:
                        self.final[name] = (phase, seen, obj)
                        self._changed.notify_all()

    def wait(
        self, names: list[str], timeout: float = TIMEOUT
    ) -> dict[str, tuple[str, float, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not all(n in self.final for n in names):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = [n for n in names if n not in self.final]
                    raise TimeoutError(f"restores not finished within {timeout:.0f} s: {missing}")
                self._changed.wait(left)
        found = {n: self.final[n] for n in names}
        failed = [
            f"{n}: {obj['status'].get('message')}" for n, (p, _, obj) in found.items() if p != "Succeeded"
        ]
        if failed:
            raise RuntimeError("restores failed: " + "; ".join(failed))
        return found

    def stop(self) -> None:
        self._watch.stop()  # type: ignore[no-untyped-call]


@dataclass
class Environment:
    kube: KubeControlPlane
    emulator: EmulatorServer
    api: client.CustomObjectsApi
    workdir: Path
    operator_log: Path
    _names: Iterator[int] = field(default_factory=lambda: iter(range(1, 1_000_000)))

    def neon(self) -> NeonClient:
        return NeonClient(self.emulator.url, self.emulator.api_key)

    def project_with_checkpoint(self) -> tuple[str, str]:
        """A new emulator project and a Ready Checkpoint of its production branch; returns (project, name)."""
        with self.neon() as neon:
            created = neon.create_project(name="bench", branch_name="production")
            neon.wait_for_operations(created.project.id, created.operations, timeout=60)
        project = created.project.id
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
        raise TimeoutError(f"checkpoint {name} not Ready; see {self.operator_log}")

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
        with self.neon() as neon:
            ops = [neon.get_operation(project, op["id"]) for op in restore["status"]["operations"]]
        return max(op.updated_at for op in ops).timestamp()


@contextlib.contextmanager
def environment() -> Iterator[Environment]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-restores-", dir="/tmp"))
    operator: subprocess.Popen[bytes] | None = None
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, True)
        kube = KubeControlPlane(workdir / "kube")
        kube.start()
        stack.callback(kube.stop)
        kube.kubectl("apply", "-f", str(REPO / "crds"))
        for crd in (CHECKPOINTS, CHECKPOINT_RESTORES):
            kube.kubectl("wait", "--for=condition=Established", f"crd/{crd}.{GROUP}", "--timeout=60s")
        kube.kubectl("create", "namespace", NAMESPACE)
        meta = PostgresCluster(workdir / "meta")
        meta.start()
        stack.callback(meta.stop)
        with psycopg.connect(meta.dsn, autocommit=True) as conn:
            conn.execute("CREATE DATABASE meta")
        emulator = start_emulator(workdir / "emulator" / "data")
        stack.callback(emulator.stop)
        log_path = workdir / "operator.log"
        env = {
            **os.environ,
            **kube.env,
            "NEON_API_URL": emulator.url,
            "NEON_API_KEY": emulator.api_key,
            "META_DATABASE_URL": meta.dsn_for("meta"),
            "LOG_LEVEL": "WARNING",
            # Each flow holding a project lock pins one pooled connection: leave room for the writes.
            "META_DATABASE_POOL_SIZE": "30",
            "PROJECT_LOCK_WAIT": "60",
        }
        with log_path.open("wb") as log:
            operator = subprocess.Popen(
                [str(OPERATOR), "operator", "--namespace", NAMESPACE],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

        def stop_operator() -> None:
            assert operator is not None
            if operator.poll() is None:
                operator.send_signal(signal.SIGTERM)
                try:
                    operator.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    operator.kill()
                    operator.wait(timeout=10)

        stack.callback(stop_operator)
        api = client.CustomObjectsApi(
            config.new_client_from_config(config_file=str(kube.kubeconfig))  # type: ignore[no-untyped-call]
        )
        yield Environment(kube, emulator, api, workdir, log_path)


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
        watcher = PhaseWatch(env.api)
        try:
            latencies, delays = _sequential(env, watcher, samples)
            spread = [env.project_with_checkpoint()[1] for _ in range(fan)]
            _, one = env.project_with_checkpoint()
            parallel = _concurrent(env, watcher, spread)
            serialized = _concurrent(env, watcher, [one] * fan)
        finally:
            watcher.stop()
    ms = [f"{1000 * statistics.median(latencies):.0f}", f"{1000 * _percentile(latencies, 0.95):.0f}"]
    delay = [f"{1000 * statistics.median(delays):.0f}", f"{1000 * _percentile(delays, 0.95):.0f}"]
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
