"""Schedule e2e tests reuse the Checkpoint e2e harness (apiserver + emulator + meta DB + operator subprocess)
and add helpers that read a schedule's observable state."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from devenv.controlplane import KubeControlPlane
from tests.e2e.checkpoint.conftest import Harness, eventually, harness, namespace  # noqa: F401  (fixtures)

T = TypeVar("T")
SCHEDULE_UID_LABEL = "neoncheckpoints.dev/schedule-uid"


@pytest.fixture(scope="session")
def crds(kube_cluster: KubeControlPlane) -> KubeControlPlane:
    kube_cluster.apply_crds()
    return kube_cluster


@dataclass
class Schedules:
    h: Harness

    def schedule_yaml(
        self, name: str, project: str, trigger: str, extra: str = "", template: str = ""
    ) -> str:
        return f"""
apiVersion: neoncheckpoints.dev/v1alpha1
kind: CheckpointSchedule
metadata: {{name: {name}}}
spec:
  {trigger}
  checkpointTemplate:
    spec: {{projectId: {project}, branch: production{template}}}
{extra}
"""

    def create(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        applied = self.h.apply(self.schedule_yaml(*args, **kwargs))
        assert applied.returncode == 0, applied.stderr
        return self.h.get("checkpointschedule", args[0])

    def owned(self, schedule: dict[str, Any], *, deleting: bool = False) -> list[dict[str, Any]]:
        """The schedule's Checkpoints, oldest first: those not yet being deleted, or with `deleting` also
        those whose deletion is still under way (their finalizer not yet removed)."""
        uid = schedule["metadata"]["uid"]
        out = self.h.kubectl("get", "checkpoints", "-l", f"{SCHEDULE_UID_LABEL}={uid}", "-o", "json")
        items: list[dict[str, Any]] = json.loads(out.stdout)["items"]
        kept = [i for i in items if deleting or not i["metadata"].get("deletionTimestamp")]
        return sorted(kept, key=lambda i: i["metadata"]["name"])

    def ready(self, schedule: dict[str, Any]) -> list[dict[str, Any]]:
        return [c for c in self.owned(schedule) if (c.get("status") or {}).get("phase") == "Ready"]

    def status(self, name: str) -> dict[str, Any]:
        status: dict[str, Any] = self.h.get("checkpointschedule", name).get("status") or {}
        return status

    def patch(self, name: str, patch: str) -> None:
        self.h.kubectl("patch", "checkpointschedule", name, "--type=merge", "-p", patch)


@pytest.fixture
def schedules(harness: Harness) -> Iterator[Schedules]:  # noqa: F811
    yield Schedules(harness)
    # kopf's finalizer (daemons) would hold the namespace's deletion once the operator is gone; stop the
    # operator first so it does not put the finalizer back.
    harness.operators.stop_all()
    with contextlib.suppress(subprocess.SubprocessError):
        harness.kubectl(
            "patch",
            "checkpointschedules",
            "--all",
            "--type=merge",
            "-p",
            '{"metadata":{"finalizers":[]}}',
            check=False,
            timeout=20,
        )
