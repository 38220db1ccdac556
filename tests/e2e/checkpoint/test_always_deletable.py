"""Always deletable (issue 20 item 5): a Checkpoint in any phase goes within seconds of `kubectl delete`,
cleaning up what it owns where it can and saying what it could not, and a namespace holding such
Checkpoints terminates. Phases: Pending on a missing credentials Secret, Failed, mid-wait for a Neon
operation (the wait is handed back to kopf every few seconds, so the deletion gets its turn)."""

from __future__ import annotations

import time

import pytest
import yaml

from tests.e2e.checkpoint.conftest import Harness

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]

# Seconds a deletion may take; a Neon operation in the mid-wait case runs far longer.
PROMPT = 10.0
SLOW_OPERATION = 60.0


def checkpoint(name: str, project: str, **spec: object) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "neoncheckpoints.dev/v1alpha1",
            "kind": "Checkpoint",
            "metadata": {"name": name},
            "spec": {"projectId": project, "branch": "production", **spec},
        }
    )


def wait_status(h: Harness, name: str, *, phase: str, reason: str | None = None) -> None:
    deadline = time.monotonic() + 30
    status: dict[str, object] = {}
    while time.monotonic() < deadline:
        status = h.get("checkpoint", name).get("status") or {}
        ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]  # type: ignore[union-attr]
        if status.get("phase") == phase and (reason is None or (ready and ready[0]["reason"] == reason)):
            return
        time.sleep(0.2)
    raise AssertionError(f"{name}: {status}\n{h.operator_logs()}")


def arrange(h: Harness, project: str) -> None:
    """One Checkpoint in each phase: Pending (Secret missing), Failed (no such project), mid-wait."""
    assert h.apply(checkpoint("no-secret", project, credentialsSecretRef={"name": "absent"})).returncode == 0
    assert h.apply(checkpoint("failed", "no-such-project-42")).returncode == 0
    h.set_faults({"operation_delay": SLOW_OPERATION})
    assert h.apply(checkpoint("mid-wait", project, deletionPolicy="Retain")).returncode == 0
    wait_status(h, "no-secret", phase="Pending", reason="SecretNotFound")
    wait_status(h, "failed", phase="Failed", reason="NotFound")
    wait_status(h, "mid-wait", phase="Creating")


def test_a_checkpoint_in_any_phase_is_deleted_within_seconds(harness: Harness) -> None:
    project = harness.create_project()
    harness.start_operator()
    arrange(harness, project)
    for name in ("no-secret", "failed", "mid-wait"):
        started = time.monotonic()
        deleted = harness.kubectl("delete", "checkpoint", name, f"--timeout={PROMPT:.0f}s", check=False)
        took = time.monotonic() - started
        assert deleted.returncode == 0, f"{name}: {deleted.stderr}\n{harness.operator_logs()}"
        assert took < PROMPT, f"{name} took {took:.1f}s"
    # What it could not check is said (the Secret was never there, so no key could ask Neon).
    left = [e for e in harness.events("no-secret") if e["reason"] == "SnapshotLeftBehind"]
    assert left and left[0]["type"] == "Warning" and "Secret" in left[0]["message"]
    assert "Traceback" not in harness.operators.logs(chars=10**7), harness.operator_logs()


def test_a_namespace_holding_checkpoints_in_every_phase_terminates(harness: Harness) -> None:
    project = harness.create_project()
    harness.start_operator()
    arrange(harness, project)
    harness.kube.kubectl("delete", "namespace", harness.namespace, "--wait=false")
    deadline = time.monotonic() + 30
    while harness.kube.kubectl("get", "namespace", harness.namespace, check=False).returncode == 0:
        assert time.monotonic() < deadline, harness.operator_logs()
        time.sleep(0.5)
