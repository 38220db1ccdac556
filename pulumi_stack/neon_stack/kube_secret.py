"""The operator's Kubernetes Secret (NEON_API_URL, NEON_API_KEY, META_DATABASE_URL), written with kubectl.

Only used when `kubeconfig` is configured. The manifest goes to kubectl on stdin, so the values never
appear on a command line; kubectl's own output is not passed on (it could echo data on some errors).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult
from pulumi.dynamic import ResourceProvider as _ResourceProvider

from .access import ProviderError
from .inputs import diff_inputs

INPUTS = ("kubeconfig", "namespace", "name", "string_data")
KUBECTL_TIMEOUT = 60.0


def _kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise ProviderError("kubectl is not on PATH (needed because neon-checkpoints:kubeconfig is set)")
    return subprocess.run(
        [kubectl, "--kubeconfig", kubeconfig, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=KUBECTL_TIMEOUT,
        check=False,
    )


def _manifest(props: dict[str, Any]) -> str:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": props["namespace"]}}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": props["name"],
            "namespace": props["namespace"],
            "labels": {"app.kubernetes.io/managed-by": "pulumi"},
        },
        "stringData": props["string_data"],
    }
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [namespace, secret]})


def _apply(props: dict[str, Any]) -> None:
    result = _kubectl(props["kubeconfig"], "apply", "-f", "-", stdin=_manifest(props))
    if result.returncode != 0:
        # stderr names the failing object; the manifest (with the values) is not part of it.
        first_line = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise ProviderError(
            f"kubectl apply of Secret {props['namespace']}/{props['name']} failed: {first_line}"
        )


class KubeSecretProvider(_ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        _apply(props)
        return CreateResult(f"{props['namespace']}/{props['name']}", _inputs(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        result = _kubectl(
            props["kubeconfig"], "get", "secret", props["name"], "-n", props["namespace"], "-o", "json"
        )
        if result.returncode != 0:
            if "NotFound" in result.stderr:
                return ReadResult("", {})
            raise ProviderError(f"kubectl get Secret {id_} failed")
        data = json.loads(result.stdout).get("data") or {}
        live = {k: base64.b64decode(v).decode() for k, v in data.items()}
        return ReadResult(id_, {**_inputs(props), "string_data": live})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_inputs(olds, news, replace=("kubeconfig", "namespace", "name"), update=("string_data",))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _apply(news)
        return UpdateResult(_inputs(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        args = ("delete", "secret", props["name"], "-n", props["namespace"], "--ignore-not-found")
        result = _kubectl(props["kubeconfig"], *args)
        if result.returncode != 0:
            raise ProviderError(f"kubectl delete Secret {props['namespace']}/{props['name']} failed")


def _inputs(props: dict[str, Any]) -> dict[str, Any]:
    return {k: props[k] for k in INPUTS}


class OperatorSecret(Resource, module="kubernetes", name="OperatorSecret"):
    name: pulumi.Output[str]
    namespace: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        kubeconfig: str,
        namespace: str,
        name: str,
        string_data: pulumi.Input[dict[str, pulumi.Input[str]]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"kubeconfig": kubeconfig, "namespace": namespace, "name": name, "string_data": string_data}
        options = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["string_data"])
        )
        super().__init__(KubeSecretProvider(), resource_name, props, options)
