"""End-to-end harness: the real apiserver with our CRDs, the emulator, a fresh meta DB, and the operator
run by kopf as a real subprocess (`neon-checkpoints operator`, tests/support/operator.py), watching the
test's namespace."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import psycopg
import pytest

from devenv.controlplane import KubeControlPlane
from devenv.emulator import EmulatorServer
from devenv.operator_process import OperatorProcess
from devenv.tools import REPO_ROOT
from neon_api import NeonClient
from tests.support.operator import Operators

T = TypeVar("T")

_names = itertools.count(1)


@pytest.fixture(scope="session")
def crds(kube_cluster: KubeControlPlane) -> KubeControlPlane:
    kube_cluster.apply_crds()
    return kube_cluster


@pytest.fixture
def namespace(crds: KubeControlPlane) -> Iterator[str]:
    name = f"ckpt-{os.getpid()}-{next(_names)}"
    crds.kubectl("create", "namespace", name)
    yield name
    crds.kubectl("delete", "namespace", name, "--wait=false", check=False)


@dataclass
class Harness:
    """Everything a Checkpoint e2e test touches, with helpers that read observable state."""

    kube: KubeControlPlane
    emulator: EmulatorServer
    namespace: str
    meta_dsn: str
    operators: Operators

    # -- operator ---------------------------------------------------------------------------------------
    def start_operator(self, **settings: str) -> OperatorProcess:
        """A healthy operator watching the test's namespace; `settings` are environment on top."""
        return self.operators.start(self.namespace, **settings)

    # -- kubernetes -------------------------------------------------------------------------------------
    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        return self.kube.kubectl("-n", self.namespace, *args, check=check, input=input, timeout=timeout)

    def apply(self, manifest: str) -> subprocess.CompletedProcess[str]:
        return self.kubectl("apply", "-f", "-", input=manifest, check=False)

    def example(self, name: str, project_id: str, **replace: str) -> str:
        text = (REPO_ROOT / "examples" / name).read_text().replace("gentle-river-202020", project_id)
        for old, new in replace.items():
            text = text.replace(old, new)
        return text

    def get(self, kind: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.kubectl("get", kind, name, "-o", "json").stdout)
        return result

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        result = self.kubectl(
            "wait",
            "--for=condition=Ready",
            f"checkpoint/{name}",
            f"--timeout={timeout:.0f}s",
            check=False,
            timeout=timeout + 30,
        )
        if result.returncode != 0:
            status = self.kubectl("get", "ckpt", name, "-o", "jsonpath={.status}", check=False).stdout
            raise AssertionError(
                f"{name} not Ready: {result.stderr}\nstatus: {status}\n{self.operator_logs()}"
            )

    def wait_phase(self, name: str, phase: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.get("checkpoint", name)
            if body.get("status", {}).get("phase") == phase:
                return body
            time.sleep(0.2)
        raise AssertionError(f"{name} never reached {phase}: {body.get('status')}\n{self.operator_logs()}")

    def events(self, name: str) -> list[dict[str, Any]]:
        out = self.kubectl("get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json")
        items: list[dict[str, Any]] = json.loads(out.stdout)["items"]
        return sorted(items, key=lambda e: e.get("firstTimestamp") or e.get("eventTime") or "")

    def operator_logs(self) -> str:
        return self.operators.logs()

    # -- neon (emulator) --------------------------------------------------------------------------------
    def neon(self) -> NeonClient:
        return NeonClient(self.emulator.url, self.emulator.api_key)

    def create_project(self, branch_name: str = "production") -> str:
        with self.neon() as neon:
            created = neon.create_project(name=f"e2e-{self.namespace}", branch_name=branch_name)
            neon.wait_for_operations(created.project.id, created.operations, timeout=60)
            return created.project.id

    def snapshot_names(self, project_id: str) -> list[str]:
        with self.neon() as neon:
            return sorted(s.name for s in neon.list_snapshots(project_id))

    def set_faults(self, config: dict[str, Any]) -> None:
        with self.emulator.admin() as admin:
            admin.put("/faults", json=config).raise_for_status()

    def reset_faults(self) -> None:
        with self.emulator.admin() as admin:
            admin.post("/reset-faults").raise_for_status()

    def request_count(self) -> int:
        with self.emulator.admin() as admin:
            counts: dict[str, int] = admin.get("/requests").json()["requests"]
        return sum(counts.values())

    # -- meta database ----------------------------------------------------------------------------------
    def meta_rows(
        self, sql: str = "SELECT * FROM checkpoints ORDER BY id", *params: Any
    ) -> list[dict[str, Any]]:
        with psycopg.connect(self.meta_dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            cur.execute(sql.encode(), params)
            return cur.fetchall()


def eventually(check: Callable[[], T | None], *, timeout: float, what: str, h: Harness) -> T:
    """Poll `check` until it returns something truthy; fail with the operator log otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{h.operator_logs()}")
        time.sleep(0.25)


@pytest.fixture
def harness(
    crds: KubeControlPlane, emulator: EmulatorServer, namespace: str, operators: Operators
) -> Iterator[Harness]:
    h = Harness(crds, emulator, namespace, operators.meta_dsn, operators)
    try:
        yield h
    finally:
        operators.stop_all()
        # No operator is left to honour the finalizers: drop them so the namespace can go.
        h.kube.kubectl(
            "-n",
            namespace,
            "patch",
            "checkpoints",
            "--all",
            "--type=merge",
            "-p",
            '{"metadata":{"finalizers":null}}',
            check=False,
            timeout=30,
        )
        with contextlib.suppress(httpx.HTTPError):
            h.reset_faults()
