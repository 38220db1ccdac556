"""The kubectl-friendly summary (issue 17 item 5): `kubectl get ckpt,ckptrestore -o wide` answers "is it done,
how long did it take, what failed", and `neon-checkpoints status` prints per project the last checkpoint,
the last restore, anything Stalled and the request budget."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from devenv import tools
from tests.e2e.checkpoint.conftest import eventually
from tests.e2e.restore.conftest import RestoreHarness

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]


def test_wide_columns_and_the_status_command(restores: RestoreHarness) -> None:
    h = restores.h
    project = h.create_project()
    h.start_operator()
    restores.checkpoint(project, "v1", "c1")
    restores.restore("back-to-v1", "v1")
    restores.wait_restore("back-to-v1")
    blocked = h.example("checkpoint.yaml", project, **{"name: v1": "name: blocked"})
    blocked += "  credentialsSecretRef: {name: absent-key}\n"
    assert h.apply(blocked).returncode == 0

    def stalled() -> bool:
        conditions = (h.get("checkpoint", "blocked").get("status") or {}).get("conditions") or []
        return any(c["type"] == "Stalled" and c["status"] == "True" for c in conditions)

    eventually(stalled, timeout=30, what="checkpoint blocked Stalled", h=h)

    wide = h.kubectl("get", "ckpt,ckptrestore", "-o", "wide").stdout
    lines = {line.split()[0]: line for line in wide.splitlines() if line and not line.startswith("NAME")}
    assert "READY" in wide and "DURATION" in wide and "STALLED" in wide and "SUCCEEDED" in wide, wide
    ready = lines["checkpoint.neoncheckpoints.dev/v1"].split()
    assert ready[1] == "Ready" and "True" in ready, wide
    blocked_line = lines["checkpoint.neoncheckpoints.dev/blocked"]
    assert "SecretNotFound" in blocked_line and "Pending" in blocked_line, wide
    restore = lines["checkpointrestore.neoncheckpoints.dev/back-to-v1"].split()
    assert restore[1] == "Succeeded" and "True" in restore, wide
    body = h.get("checkpoint", "v1")
    assert body["status"]["durationSeconds"] > 0

    env = {
        **os.environ,
        "KUBECONFIG": str(h.kube.kubeconfig),
        "META_DATABASE_URL": h.meta_dsn,
        "NEON_API_URL": "http://127.0.0.1:4000/api/v2",  # not Neon's: no budget by default
    }
    cli = str(tools.console_script("neon-checkpoints"))
    printed = subprocess.run(
        [cli, "status", "-o", "json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert printed.returncode == 0, printed.stderr
    summary = json.loads(printed.stdout)
    [mine] = [p for p in summary["projects"] if p["project_id"] == project]
    assert mine["last_restore"]["name"] == f"{h.namespace}/back-to-v1"
    assert (mine["last_restore"]["phase"], mine["last_restore"]["mode"]) == ("Succeeded", "Finalize")
    assert mine["last_checkpoint"]["name"] == f"{h.namespace}/v1"
    assert [(s["kind"], s["name"], s["reason"]) for s in mine["stalled"]] == [
        ("Checkpoint", "blocked", "SecretNotFound")
    ]
    # The emulator's URL: no client-side budget unless set; the operator's waits need its /metrics.
    assert summary["requestBudget"].startswith("off (no client-side limit")
    assert "--metrics-url" in summary["requestBudget"]
    table = subprocess.run([cli, "status"], env=env, capture_output=True, text=True, timeout=60).stdout
    assert project in table and "SecretNotFound" in table and "request budget:" in table
