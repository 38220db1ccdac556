"""Workloads e2e: the restore harness (real apiserver + controller-manager with the deployment, replicaset and
statefulset controllers, the emulator, a fresh meta DB, the operator as a kopf subprocess) plus the app's
code: a Deployment whose image tag and a ConfigMap whose queries change with the schema."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tests.e2e.checkpoint.conftest import Harness, crds, harness, namespace  # noqa: F401
from tests.e2e.restore.conftest import RestoreHarness, restores, sql  # noqa: F401

WORKLOADS = [
    {"kind": "Deployment", "name": "web"},
    {"kind": "ConfigMap", "name": "queries"},
]


def deployment(
    version: str,
    replicas: int = 1,
    kind: str = "Deployment",
    name: str = "web",
    env: list[dict[str, Any]] | None = None,
) -> str:
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": f"registry.local/{name}:{version}",
                        "env": env or [{"name": "APP_VERSION", "value": version}],
                        "volumeMounts": [{"name": "queries", "mountPath": "/etc/queries"}],
                    }
                ],
                "volumes": [{"name": "queries", "configMap": {"name": "queries"}}],
            },
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec})


def configmap(query: str, name: str = "queries") -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"list.sql": query}}
    )


@dataclass
class App:
    """The app's code in the test's namespace, as kubectl sees it."""

    r: RestoreHarness

    @property
    def h(self) -> Harness:
        return self.r.h

    def deploy(
        self, version: str, query: str, replicas: int = 1, env: list[dict[str, Any]] | None = None
    ) -> None:
        for manifest in (configmap(query), deployment(version, replicas, env=env)):
            applied = self.h.apply(manifest)
            assert applied.returncode == 0, applied.stderr

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return self.h.get(kind, name)

    def image(self, name: str = "web", kind: str = "deployment") -> str:
        return str(self.get(kind, name)["spec"]["template"]["spec"]["containers"][0]["image"])

    def query(self) -> str:
        return str(self.get("configmap", "queries")["data"]["list.sql"])

    def replicasets(self) -> list[dict[str, Any]]:
        out = self.h.kubectl("get", "replicasets", "-l", "app=web", "-o", "json").stdout
        items: list[dict[str, Any]] = json.loads(out)["items"]
        return items

    def checkpoint(self, project: str, name: str, commit: str, **spec: Any) -> dict[str, Any]:
        doc = yaml.safe_load(self.h.example("checkpoint.yaml", project))
        doc["metadata"]["name"] = name
        doc["spec"]["source"] = {"commit": commit}
        doc["spec"].update(spec)
        applied = self.h.apply(yaml.safe_dump(doc))
        assert applied.returncode == 0, applied.stderr
        self.h.wait_ready(name)
        return self.h.get("checkpoint", name)

    def undo(self, name: str, of: str, **spec: Any) -> None:
        doc = {
            "apiVersion": "neoncheckpoints.dev/v1alpha1",
            "kind": "CheckpointRestore",
            "metadata": {"name": name},
            "spec": {"undo": {"restoreRef": {"name": of}}, **spec},
        }
        applied = self.h.apply(yaml.safe_dump(doc))
        assert applied.returncode == 0, applied.stderr

    def wait_observed(self, kind: str, name: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            body = self.get(kind, name)
            if body.get("status", {}).get("observedGeneration", 0) >= body["metadata"]["generation"]:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{kind} {name} not observed: {body.get('status')}")
            time.sleep(0.1)


def v1_table(app_uri: str) -> None:
    sql(app_uri, "CREATE TABLE contacts (id serial PRIMARY KEY, name text, email text)")
    sql(app_uri, "INSERT INTO contacts (name, email) VALUES ('Ada', 'ada@example.com')")


def v3_table(app_uri: str) -> None:
    sql(app_uri, "ALTER TABLE contacts ADD COLUMN tags text[]")
    sql(app_uri, "INSERT INTO contacts (name, email, tags) VALUES ('Grace', 'grace@example.com', '{navy}')")


@pytest.fixture
def app(restores: RestoreHarness) -> Iterator[App]:  # noqa: F811
    yield App(restores)
