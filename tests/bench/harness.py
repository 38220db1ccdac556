"""Shared machinery of the end-to-end benchmarks: the real apiserver with our CRDs, a meta database, the
emulator (no injected latency) and the operator run by kopf as a subprocess, as in the e2e tests; plus a
watch that notes the wall-clock moment each resource first reaches a final phase.

Everything started is stopped on the way out, also on an exception, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import psycopg
from kubernetes import client, config, watch

from devenv.controlplane import KubeControlPlane
from devenv.emulator import EmulatorServer, start_emulator
from devenv.loopfs import loop_mount_unavailable, loop_mounted
from devenv.operator_process import OperatorProcess, start_operator
from devenv.postgres import PostgresCluster
from neon_api import NeonClient
from neon_checkpoints.names import GROUP, VERSION

TIMEOUT = 180.0
META_DATABASE = "meta"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


Final = tuple[str, float, dict[str, Any]]  # (phase, wall-clock moment the watch saw it, the object)


class PhaseWatch:
    """From a watch stream: the wall-clock moment each resource of `plural` first shows a final phase."""

    def __init__(
        self,
        api: client.CustomObjectsApi,
        namespace: str,
        plural: str,
        success: str,
        condition: str | None = None,
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._plural = plural
        self._success = success
        self.final: dict[str, Final] = {}
        # `condition`: also note when each resource first shows that condition True (wait_condition).
        self._condition = condition
        self.condition_true: dict[str, float] = {}
        self._last_status: dict[str, dict[str, Any]] = {}  # for the message when some never finish
        self.messages: dict[str, str] = {}  # every status message seen per resource, joined
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
                self._namespace,
                self._plural,
                timeout_seconds=3600,
            ):
                seen = time.time()
                obj = event["object"]
                phase = (obj.get("status") or {}).get("phase")
                name = obj["metadata"]["name"]
                self._last_status[name] = obj.get("status") or {}
                message = self._last_status[name].get("message")
                if message and message not in self.messages.get(name, ""):
                    self.messages[name] = self.messages.get(name, "") + "\n" + message
                if phase in (self._success, "Failed") and name not in self.final:
                    with self._changed:
                        self.final[name] = (phase, seen, obj)
                        self._changed.notify_all()
                if self._condition and name not in self.condition_true:
                    conditions = self._last_status[name].get("conditions") or []
                    if any(
                        c.get("type") == self._condition and c.get("status") == "True" for c in conditions
                    ):
                        with self._changed:
                            self.condition_true[name] = seen
                            self._changed.notify_all()

    def wait(self, names: list[str], timeout: float = TIMEOUT) -> dict[str, Final]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not all(n in self.final for n in names):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = [n for n in names if n not in self.final]
                    last = [(n, self._last_status.get(n, {})) for n in missing[:5]]
                    shown = "; ".join(f"{n}: {st.get('phase')} ({st.get('message')})" for n, st in last)
                    raise TimeoutError(
                        f"{len(missing)} {self._plural} not finished within {timeout:.0f} s, e.g. {shown}"
                    )
                self._changed.wait(left)
        found = {n: self.final[n] for n in names}
        failed = [
            f"{n}: {obj['status'].get('message')}" for n, (p, _, obj) in found.items() if p != self._success
        ]
        if failed:
            raise RuntimeError(f"{self._plural} failed: " + "; ".join(failed))
        return found

    def wait_condition(self, names: list[str], timeout: float = TIMEOUT) -> dict[str, float]:
        """The moment each of `names` first showed the watch's condition True."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not all(n in self.condition_true for n in names):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = [n for n in names if n not in self.condition_true]
                    last = [(n, self._last_status.get(n, {})) for n in missing[:5]]
                    shown = "; ".join(
                        f"{n}: {[c for c in st.get('conditions') or [] if c.get('type') == self._condition]}"
                        for n, st in last
                    )
                    raise TimeoutError(
                        f"{len(missing)} {self._plural} without {self._condition} within {timeout:.0f} s, "
                        f"e.g. {shown}"
                    )
                self._changed.wait(left)
            return {n: self.condition_true[n] for n in names}

    def stop(self) -> None:
        self._watch.stop()  # type: ignore[no-untyped-call]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (its own, not its children's)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; utime, stime are fields 14, 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kib(pid: int) -> int:
    """The process's resident-set high-water mark (VmHWM), while it still runs."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for pid {pid}")


class RoundTripProbe:
    """Times a cheap emulator request (GET /admin/status: same server and event loop as the API, not
    counted) every `interval` seconds from a thread: how long any client waits on the emulator meanwhile."""

    def __init__(self, emulator: EmulatorServer, interval: float = 0.1) -> None:
        self.samples: list[float] = []
        self._emulator = emulator
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self._emulator.admin(timeout=10) as admin:
            while not self._stopped.wait(self._interval):
                started = time.monotonic()
                with contextlib.suppress(httpx.HTTPError):
                    admin.get("/status").raise_for_status()
                    self.samples.append(time.monotonic() - started)

    def stop(self) -> list[float]:
        self._stopped.set()
        self._thread.join(timeout=15)
        return self.samples


@dataclass
class Cluster:
    kube: KubeControlPlane
    meta: PostgresCluster
    emulator: EmulatorServer
    storage: str  # the emulator's storage driver, and why when it is not btrfs
    api: client.CustomObjectsApi
    workdir: Path
    _stack: contextlib.ExitStack

    def neon(self) -> NeonClient:
        return NeonClient(self.emulator.url, self.emulator.api_key)

    def create_projects(self, count: int) -> list[str]:
        """New emulator projects with a `production` branch; requested together, then waited for."""
        with self.neon() as neon:
            created = [neon.create_project(name="bench", branch_name="production") for _ in range(count)]
            for c in created:
                neon.wait_for_operations(c.project.id, c.operations, timeout=120)
        return [c.project.id for c in created]

    def create_namespace(self, name: str) -> None:
        self.kube.kubectl("create", "namespace", name)

    def start_operator(self, namespace: str, **settings: str) -> OperatorProcess:
        """A healthy operator watching `namespace` (the console script is Python itself: its pid is the
        operator's); stopped when the cluster is (or earlier by `stop()`)."""
        operator = start_operator(
            neon_api_url=self.emulator.url,
            neon_api_key=self.emulator.api_key,
            meta_database_url=self.meta.dsn_for(META_DATABASE),
            kubeconfig=self.kube.kubeconfig,
            log_path=self.workdir / f"operator-{namespace}.log",
            namespaces=[namespace],
            # One tenant, its namespace unannotated (the namespace read is still made and measured).
            settings={"LOG_LEVEL": "WARNING", "NEON_CHECKPOINTS_TENANCY": "open", **settings},
        )
        self._stack.callback(operator.stop)
        return operator

    def reset_requests(self) -> None:
        with self.emulator.admin() as admin:
            admin.post("/reset-requests").raise_for_status()

    def request_routes(self) -> dict[str, int]:
        """API calls since the last reset, per route template (`GET /api/v2/projects/{project_id}`)."""
        with self.emulator.admin() as admin:
            response = admin.get("/requests")
            response.raise_for_status()
            routes: dict[str, int] = response.json()["routes"]
        return routes


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C does, so the cleanup callbacks run."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def cluster(prefix: str) -> Iterator[Cluster]:
    """The apiserver with the CRDs, an empty meta database and the emulator; no operator yet.

    The emulator keeps its branches on a loop-mounted btrfs image when this machine allows it: snapshots are
    then copy-on-write and O(1), as on Neon. The copy driver instead copies every branch per snapshot, and on
    2 cores ten of those at once starve every other process of the benchmark, the operator included."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir="/tmp"))
    with _sigterm_as_exit(), contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, True)
        kube = KubeControlPlane(workdir / "kube")
        kube.start()
        stack.callback(kube.stop)
        kube.apply_crds()
        meta = PostgresCluster(workdir / "meta")
        # Registered first (a no-op until it runs), so an interrupted start is stopped too.
        stack.callback(meta.stop)
        meta.start()
        with psycopg.connect(meta.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {META_DATABASE}")
        unavailable = loop_mount_unavailable("btrfs")
        if unavailable is None:
            (workdir / "emulator").mkdir()
            data_dir = stack.enter_context(loop_mounted(workdir / "emulator", "8G")) / "data"
            storage = "btrfs"
        else:
            data_dir, storage = workdir / "emulator" / "data", f"copy ({unavailable})"
        emulator = start_emulator(data_dir, storage="btrfs" if unavailable is None else "copy")
        stack.callback(emulator.stop)
        api = client.CustomObjectsApi(
            config.new_client_from_config(config_file=str(kube.kubeconfig))  # type: ignore[no-untyped-call]
        )
        yield Cluster(kube, meta, emulator, storage, api, workdir, stack)
