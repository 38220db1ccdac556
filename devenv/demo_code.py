"""The demo app's code, next to its database (issue 14): at each prompt the agent also ships a new image tag
of the `contacts` Deployment and a new `contacts-queries` ConfigMap with the SQL that version runs. The
Checkpoints record both; a restore brings them back with the database; an undo puts them forward again.

No kubelet runs on this machine: the Deployment's pods are created by the controller-manager's ReplicaSet
controller and stay Pending. What the demo shows of "the code the app runs" is therefore what the cluster
says: the Deployment's image, the ConfigMap's queries and revision, and which ReplicaSet (one per template,
made by the controller-manager) holds the replicas.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEPLOYMENT = "contacts"
CONFIGMAP = "contacts-queries"
IMAGE = "registry.local/contacts-app"

# The query each version of the app runs (what its ConfigMap holds), by prompt version.
QUERIES = {
    "v1": "SELECT id, name, email FROM contacts ORDER BY id",
    "v2": "SELECT id, name, email, role, company FROM contacts ORDER BY id",
    "v3": "SELECT id, name, email, role, company, tags FROM contacts ORDER BY id",
}
WORKLOADS = (
    {"kind": "Deployment", "name": DEPLOYMENT, "databaseUrl": {"env": "DATABASE_URL"}},
    {"kind": "ConfigMap", "name": CONFIGMAP},
)

Kubectl = Callable[..., str]


@dataclass(frozen=True)
class CodeView:
    """What code the cluster says the app runs."""

    image: str
    query: str
    replicas: int
    # (ReplicaSet name, its image, its replicas), newest first: the controller-manager's work.
    replicasets: tuple[tuple[str, str, int], ...]


def manifests(version: str, namespace: str) -> str:
    """The app's Deployment and ConfigMap at `version` (the image tag is the version)."""
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIGMAP, "namespace": namespace},
        "data": {"list.sql": QUERIES[version]},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": DEPLOYMENT}},
            "template": {
                "metadata": {"labels": {"app": DEPLOYMENT}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": f"{IMAGE}:{version}",
                            "env": [{"name": "QUERIES", "value": "/etc/queries/list.sql"}],
                            "volumeMounts": [{"name": "queries", "mountPath": "/etc/queries"}],
                        }
                    ],
                    "volumes": [{"name": "queries", "configMap": {"name": CONFIGMAP}}],
                },
            },
        },
    }
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [configmap, deployment]})


def ship(kubectl: Kubectl, version: str, namespace: str) -> None:
    """The agent's code change of `version`, applied as a platform would (kubectl apply)."""
    kubectl("apply", "-f", "-", input=manifests(version, namespace))


def read_code(kubectl: Kubectl, namespace: str) -> CodeView:
    deployment = json.loads(kubectl("get", "-n", namespace, "deployment", DEPLOYMENT, "-o", "json"))
    configmap = json.loads(kubectl("get", "-n", namespace, "configmap", CONFIGMAP, "-o", "json"))
    listed = json.loads(
        kubectl("get", "-n", namespace, "replicasets", "-l", f"app={DEPLOYMENT}", "-o", "json")
    )
    sets: list[dict[str, Any]] = sorted(
        listed["items"], key=lambda rs: rs["metadata"]["creationTimestamp"], reverse=True
    )
    return CodeView(
        image=deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        query=configmap["data"]["list.sql"],
        replicas=deployment["spec"]["replicas"],
        replicasets=tuple(
            (
                rs["metadata"]["name"],
                rs["spec"]["template"]["spec"]["containers"][0]["image"],
                rs["spec"].get("replicas", 0),
            )
            for rs in sets
        ),
    )


def render_code(view: CodeView, revision: str | None = None) -> str:
    lines = [
        f"image {view.image}, {view.replicas} replica(s)",
        f"queries ({CONFIGMAP}{'@' + revision if revision else ''}): {view.query}",
        "ReplicaSets the controller-manager keeps (no kubelet runs here: pods stay Pending):",
        *(f"  {name}  {image}  replicas={count}" for name, image, count in view.replicasets),
    ]
    return textwrap.indent("\n".join(lines), "     ")


def revision_of(status: dict[str, Any], kind: str = "ConfigMap") -> str | None:
    """The revision a Checkpoint or restore status lists for the app's ConfigMap."""
    return next((w.get("revision") for w in status.get("workloads") or [] if w.get("kind") == kind), None)


def undo_yaml(name: str, of: str, namespace: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: neoncheckpoints.dev/v1alpha1
        kind: CheckpointRestore
        metadata:
          name: {name}
          namespace: {namespace}
        spec:
          undo: {{restoreRef: {{name: {of}}}}}
          quiesce: true
        """)
