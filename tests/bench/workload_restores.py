"""What rolling the code back adds to a restore (issue 14): Finalize restores of a checkpoint that recorded
three workloads (a Deployment, a StatefulSet, a ConfigMap) next to restores of a database-only checkpoint, in
the same run, alternating, on the real apiserver + controller-manager (deployment and statefulset
controllers), the emulator and the operator. Before each code restore the workloads are changed again, so
every restore applies three versions back and waits for the controller-manager to observe them.

Measured: last Neon operation finished -> a watch sees Succeeded (the operator's part after Neon is done),
p50/p95 for each kind, and the difference of the p50s (target: under 100 ms).
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from neon_checkpoints.names import CHECKPOINT_RESTORES, CHECKPOINTS, GROUP, VERSION
from tests.bench import BenchOptions, format_table
from tests.bench.harness import TIMEOUT, PhaseWatch, percentile
from tests.bench.restores import NAMESPACE, Environment, environment

WORKLOADS = [
    {"kind": "Deployment", "name": "web"},
    {"kind": "StatefulSet", "name": "worker"},
    {"kind": "ConfigMap", "name": "queries"},
]


def code(version: int) -> str:
    def workload(kind: str, name: str) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": f"registry.local/{name}:v{version}"}]},
            },
        }
        if kind == "StatefulSet":
            spec["serviceName"] = name
        return {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": spec,
        }

    items = [
        workload("Deployment", "web"),
        workload("StatefulSet", "worker"),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "queries", "namespace": NAMESPACE},
            "data": {"list.sql": f"SELECT {version}"},
        },
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def ship(env: Environment, version: int) -> None:
    env.cluster.kube.kubectl("apply", "-f", "-", input=code(version))


def checkpoint(env: Environment, project: str, workloads: bool) -> str:
    name = f"ckpt-{next(env._names)}"
    spec: dict[str, Any] = {"projectId": project, "branch": "production", "deletionPolicy": "Retain"}
    if workloads:
        spec["workloads"] = WORKLOADS
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Checkpoint",
        "metadata": {"name": name},
        "spec": spec,
    }
    env.api.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, CHECKPOINTS, body)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        got: Any = env.api.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, CHECKPOINTS, name)
        phase = (got.get("status") or {}).get("phase")
        if phase == "Ready":
            return name
        if phase == "Failed":
            raise RuntimeError(f"checkpoint {name} failed: {got['status'].get('message')}")
        time.sleep(0.05)
    raise TimeoutError(f"checkpoint {name} not Ready; see {env.operator.log_path}")


def run(options: BenchOptions) -> None:
    samples = 5 if options.quick else 20
    with environment() as env:
        watcher = PhaseWatch(env.api, NAMESPACE, CHECKPOINT_RESTORES, "Succeeded")
        try:
            ship(env, 1)
            with_code_project, db_only_project = env.cluster.create_projects(2)
            with_code = checkpoint(env, with_code_project, workloads=True)
            db_only = checkpoint(env, db_only_project, workloads=False)
            delays: dict[str, list[float]] = {"database only": [], "database + 3 workloads": []}
            for n in range(samples):
                for label, project, name in (
                    ("database only", db_only_project, db_only),
                    ("database + 3 workloads", with_code_project, with_code),
                ):
                    if project == with_code_project:
                        ship(env, n + 2)  # the agent moved on: the restore has three versions to apply
                    restore, _ = env.restore(name)
                    _, seen, obj = watcher.wait([restore])[restore]
                    delays[label].append(seen - env.last_operation_finished(project, obj))
        finally:
            watcher.stop()
    print(f"emulator storage: {env.cluster.storage}")
    rows = [
        [
            label,
            str(len(values)),
            f"{1000 * statistics.median(values):.0f}",
            f"{1000 * percentile(values, 0.95):.0f}",
        ]
        for label, values in delays.items()
    ]
    print(format_table(["last Neon op finished -> Succeeded", "n", "p50 ms", "p95 ms"], rows))
    extra = statistics.median(delays["database + 3 workloads"]) - statistics.median(delays["database only"])
    print(f"the code part adds {1000 * extra:.0f} ms p50 (target: under 100 ms)")
