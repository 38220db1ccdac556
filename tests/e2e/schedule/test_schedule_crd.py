"""The apiserver rejects bad CheckpointSchedules with a message naming the field (no operator needed), and
the printer columns are the ones users see."""

from __future__ import annotations

import itertools
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.controlplane import KubeControlPlane

pytestmark = pytest.mark.kube

REPO = Path(__file__).resolve().parents[3]
_names = itertools.count(1)


@pytest.fixture(scope="module")
def crds(kube_cluster: KubeControlPlane) -> KubeControlPlane:
    kube_cluster.apply_crds(REPO / "crds" / "checkpointschedules.yaml")
    return kube_cluster


@pytest.fixture
def namespace(crds: KubeControlPlane) -> Iterator[str]:
    name = f"sched-crd-{next(_names)}"
    crds.kubectl("create", "namespace", name)
    yield name
    crds.kubectl("delete", "namespace", name, "--wait=false", check=False)


def schedule(spec: str, name: str = "s1") -> str:
    return f"""
apiVersion: neoncheckpoints.dev/v1alpha1
kind: CheckpointSchedule
metadata: {{name: {name}}}
spec:
{textwrap.indent(textwrap.dedent(spec).strip(), "  ")}
"""


def apply(kube: KubeControlPlane, namespace: str, manifest: str) -> tuple[int, str]:
    result = kube.kubectl("apply", "-n", namespace, "-f", "-", input=manifest, check=False)
    return result.returncode, result.stdout + result.stderr


TEMPLATE = "checkpointTemplate: {spec: {projectId: p-1}}"


@pytest.mark.parametrize(
    "trigger",
    [
        "schedule: '*/5 * * * *'",
        "schedule: '0 3 * * mon-fri'",
        "schedule: '0,30 9-17/2 1,15 JAN-jun 0,7'",
        "schedule: '@daily'",
        "every: 30s",
        "every: 1h30m",
    ],
)
def test_valid_schedules_are_accepted(crds: KubeControlPlane, namespace: str, trigger: str) -> None:
    code, output = apply(crds, namespace, schedule(f"{trigger}\n{TEMPLATE}"))
    assert code == 0, output


@pytest.mark.parametrize(
    ("situation", "spec", "message"),
    [
        ("neither trigger", TEMPLATE, "set exactly one of spec.schedule (cron) and spec.every"),
        (
            "both triggers",
            f"schedule: '* * * * *'\nevery: 5m\n{TEMPLATE}",
            "set exactly one of spec.schedule",
        ),
        ("four cron fields", f"schedule: '* * * *'\n{TEMPLATE}", "5 space-separated fields"),
        ("every past any date", f"every: 99999999999d\n{TEMPLATE}", "spec.every"),
        (
            "keepLast above Neon's snapshot limit",
            f"every: 1h\n{TEMPLATE}\nretention: {{keepLast: 1000}}",
            "spec.retention.keepLast",
        ),
        ("minute 60", f"schedule: '60 * * * *'\n{TEMPLATE}", "the minute field (1st)"),
        ("hour 24", f"schedule: '0 24 * * *'\n{TEMPLATE}", "the hour field (2nd)"),
        ("day 32", f"schedule: '0 0 32 * *'\n{TEMPLATE}", "the day-of-month field (3rd)"),
        ("month 13", f"schedule: '0 0 1 13 *'\n{TEMPLATE}", "the month field (4th)"),
        ("weekday 8", f"schedule: '0 0 * * 8'\n{TEMPLATE}", "the day-of-week field (5th)"),
        ("step zero", f"schedule: '*/0 * * * *'\n{TEMPLATE}", "the minute field (1st)"),
        ("unknown macro", f"schedule: '@reboot'\n{TEMPLATE}", "spec.schedule"),
        ("duration without unit", f"every: '30'\n{TEMPLATE}", "spec.every must be a duration"),
        ("zero duration", f"every: 0s\n{TEMPLATE}", "spec.every must be longer than zero"),
        ("keepLast zero", f"every: 5m\nretention: {{keepLast: 0}}\n{TEMPLATE}", "spec.retention.keepLast"),
        ("bad maxAge", f"every: 5m\nretention: {{maxAge: a week}}\n{TEMPLATE}", "spec.retention.maxAge"),
        ("no template", "every: 5m", "spec.checkpointTemplate"),
        ("template without project", "every: 5m\ncheckpointTemplate: {spec: {branch: b}}", "projectId"),
        (
            "bad deletionPolicy",
            "every: 5m\ncheckpointTemplate: {spec: {projectId: p-1, deletionPolicy: Keep}}",
            "deletionPolicy",
        ),
    ],
)
def test_invalid_schedule_is_rejected_naming_the_field(
    crds: KubeControlPlane, namespace: str, situation: str, spec: str, message: str
) -> None:
    code, output = apply(crds, namespace, schedule(spec))
    assert code != 0, f"{situation}: accepted"
    assert message in output, output


def test_printer_columns(crds: KubeControlPlane, namespace: str) -> None:
    code, output = apply(crds, namespace, schedule(f"every: 5m\nsuspend: true\n{TEMPLATE}", name="cols"))
    assert code == 0, output
    table = crds.kubectl("get", "checkpointschedules", "-n", namespace, "cols").stdout
    header = table.splitlines()[0].split()
    assert header == ["NAME", "SCHEDULE", "SUSPENDED", "LAST", "NEXT"]
    # Defaults are applied by the apiserver.
    stored = json.loads(crds.kubectl("get", "ckptsched", "-n", namespace, "cols", "-o", "json").stdout)
    assert stored["spec"]["checkpointTemplate"]["spec"]["deletionPolicy"] == "Delete"
    assert "true" in table.splitlines()[1]


def test_example_is_valid(crds: KubeControlPlane, namespace: str) -> None:
    code, output = apply(crds, namespace, (REPO / "examples" / "checkpointschedule.yaml").read_text())
    assert code == 0, output
    stored = json.loads(crds.kubectl("get", "ckptsched", "-n", namespace, "nightly", "-o", "json").stdout)
    assert stored["spec"]["retention"] == {"keepLast": 7, "maxAge": "14d"}
