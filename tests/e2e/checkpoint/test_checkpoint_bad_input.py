"""Bad input that passes the apiserver (issue 4 item 6): a nonexistent project or branch, a wrong API key.
Each gives phase Failed with a reason and a Warning Event, once: no retry storm, and no key in sight."""

from __future__ import annotations

import base64
import time

import pytest

from tests.e2e.checkpoint.conftest import Harness

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]

QUIET_SECONDS = 3.0


def assert_failed_once(harness: Harness, name: str, reason: str) -> dict[str, object]:
    body = harness.wait_phase(name, "Failed", timeout=60)
    status = body["status"]
    [ready] = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert (ready["status"], ready["reason"]) == ("False", reason)
    warnings = [e for e in harness.events(name) if e["type"] == "Warning"]
    assert [e["reason"] for e in warnings] == ["Failed"]
    assert warnings[0]["message"] == status["message"]
    # Failed for good: the operator stops calling Neon about it.
    before = harness.request_count()
    time.sleep(QUIET_SECONDS)
    assert harness.request_count() == before
    assert harness.meta_rows() == []
    return dict(status)


def test_nonexistent_project(harness: Harness) -> None:
    harness.start_operator()
    assert harness.apply(harness.example("checkpoint.yaml", "no-such-project-42")).returncode == 0
    status = assert_failed_once(harness, "v1", "NotFound")
    assert status["message"] == "Neon project no-such-project-42 was not found in Neon (404)"
    # Nothing was ever made in Neon, so nothing holds the deletion up.
    deleted = harness.kubectl("delete", "checkpoint", "v1", "--timeout=30s", check=False)
    assert deleted.returncode == 0, deleted.stderr + harness.operator_logs()


def test_nonexistent_branch(harness: Harness) -> None:
    project = harness.create_project()
    harness.start_operator()
    manifest = harness.example("checkpoint.yaml", project, **{"branch: production": "branch: prod"})
    assert harness.apply(manifest).returncode == 0
    status = assert_failed_once(harness, "v1", "BranchNotFound")
    assert status["message"] == f"Neon project {project} has no branch named 'prod'"
    assert harness.snapshot_names(project) == []


def test_wrong_api_key_says_so_and_never_prints_it(harness: Harness) -> None:
    project = harness.create_project()
    operator = harness.start_operator()
    wrong_key = "napi_wrong_" + "x" * 24
    manifest = harness.example("checkpoint-tenant-key.yaml", project, napi_replace_me=wrong_key)
    applied = harness.apply(manifest)
    assert applied.returncode == 0, applied.stderr
    status = assert_failed_once(harness, "before-migration", "NeonUnauthorized")
    assert "API key was rejected (401)" in str(status["message"])
    assert harness.snapshot_names(project) == []

    body = harness.kubectl("get", "checkpoint", "before-migration", "-o", "yaml").stdout
    events = harness.kubectl("get", "events", "-o", "yaml").stdout
    deleted = harness.kubectl("delete", "checkpoint", "before-migration", "--timeout=30s", check=False)
    assert deleted.returncode == 0, deleted.stderr + harness.operator_logs()
    for text in (body, events, operator.log()):
        assert wrong_key not in text
        assert harness.emulator.api_key not in text
        assert base64.b64encode(wrong_key.encode()).decode() not in text
