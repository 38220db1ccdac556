"""The operator for tests: `neon-checkpoints operator` started by devenv's one launcher against the session's
control plane, the session's emulator and the test's fresh meta database; every one is stopped after the test.

Fixture `operators`: `operators.start("ns", NEON_CHECKPOINTS_CRASH_AFTER="snapshot-accepted")` returns a
healthy `OperatorProcess` watching that namespace (kill it, wait for its exit, read its log)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.controlplane import KubeControlPlane
from devenv.emulator import EmulatorServer
from devenv.operator_process import OperatorProcess, start_operator

# Test defaults, overridden by what a test passes. Tenancy `open`: these tests are about flows in one
# tenant's namespace (tests/e2e/tenancy and the helm tests run `enforced`, the operator's default).
SETTINGS = {"LOG_LEVEL": "INFO", "NEON_OPERATION_TIMEOUT": "60", "NEON_CHECKPOINTS_TENANCY": "open"}


class Operators:
    """Starts operators for one test and remembers them, for their logs and to stop them."""

    def __init__(self, kube: KubeControlPlane, emulator: EmulatorServer, meta_dsn: str, logs: Path) -> None:
        self.kube, self.emulator, self.meta_dsn = kube, emulator, meta_dsn
        self.started: list[OperatorProcess] = []
        self._logs = logs
        self._numbers = itertools.count()

    def start(self, *namespaces: str, **settings: str) -> OperatorProcess:
        """An operator watching `namespaces` (none: all), healthy; `settings` are environment on top."""
        operator = start_operator(
            neon_api_url=self.emulator.url,
            neon_api_key=self.emulator.api_key,
            meta_database_url=self.meta_dsn,
            kubeconfig=self.kube.kubeconfig,
            log_path=self._logs / f"operator-{next(self._numbers)}.log",
            namespaces=namespaces,
            settings={**SETTINGS, **settings},
        )
        self.started.append(operator)
        return operator

    def logs(self, chars: int = 4000) -> str:
        """The end of every operator's log, for a failure message."""
        return "\n".join(f"--- operator {i}:\n{op.log()[-chars:]}" for i, op in enumerate(self.started))

    def stop_all(self) -> None:
        for operator in self.started:
            operator.stop()


@pytest.fixture
def operators(
    kube_cluster: KubeControlPlane, emulator: EmulatorServer, fresh_database: str, tmp_path: Path
) -> Iterator[Operators]:
    started = Operators(kube_cluster, emulator, fresh_database, tmp_path)
    try:
        yield started
    finally:
        started.stop_all()
