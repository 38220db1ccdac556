"""The local control plane is real: kubectl applies a CRD, a custom resource round-trips through the
kubernetes Python client, and the server reports the pinned 1.35 version."""

from __future__ import annotations

import json
import textwrap

import pytest
from kubernetes import client, config

from devenv.controlplane import KubeControlPlane
from devenv.tools import versions

pytestmark = pytest.mark.kube

WIDGET_CRD = textwrap.dedent(
    """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: widgets.ground.neoncheckpoints.dev}
    spec:
      group: ground.neoncheckpoints.dev
      scope: Namespaced
      names: {plural: widgets, singular: widget, kind: Widget}
      versions:
      - name: v1
        served: true
        storage: true
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                required: [size]
                properties:
                  size: {type: integer, minimum: 1}
    """
)


def widget_yaml(name: str, *, size: int) -> str:
    header = "apiVersion: ground.neoncheckpoints.dev/v1\nkind: Widget\n"
    return f"{header}metadata: {{name: {name}}}\nspec: {{size: {size}}}\n"


def test_server_reports_the_pinned_version(kube_cluster: KubeControlPlane) -> None:
    out = kube_cluster.kubectl("version", "-o", "json").stdout
    server = json.loads(out)["serverVersion"]
    assert server["gitVersion"] == f"v{versions()['KUBE_VERSION']}"


def test_crd_applied_by_kubectl_serves_custom_resources(kube_cluster: KubeControlPlane) -> None:
    kube_cluster.kubectl("apply", "-f", "-", input=WIDGET_CRD)
    kube_cluster.kubectl("wait", "--for=condition=Established", "crd/widgets.ground.neoncheckpoints.dev")
    kube_cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=widget_yaml("w1", size=3),
    )
    api = client.CustomObjectsApi(config.new_client_from_config(str(kube_cluster.kubeconfig)))
    widget = api.get_namespaced_custom_object("ground.neoncheckpoints.dev", "v1", "default", "widgets", "w1")
    assert widget["spec"] == {"size": 3}

    rejected = kube_cluster.kubectl(
        "apply",
        "-f",
        "-",
        check=False,
        input=widget_yaml("w2", size=0),
    )
    assert rejected.returncode != 0
    assert "spec.size" in rejected.stderr


def test_namespace_deletion_completes(kube_cluster: KubeControlPlane) -> None:
    """kube-controller-manager runs: a deleted namespace goes away instead of staying Terminating."""
    kube_cluster.kubectl("create", "namespace", "ground-ns")
    kube_cluster.kubectl("delete", "namespace", "ground-ns", "--wait=true", "--timeout=60s")
    gone = kube_cluster.kubectl("get", "namespace", "ground-ns", check=False)
    assert "NotFound" in gone.stderr
