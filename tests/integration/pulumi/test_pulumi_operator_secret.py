"""With a kubeconfig configured, `pulumi up` writes the operator's Secret into a real apiserver."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest

from devenv.controlplane import KubeControlPlane
from devenv.emulator import EmulatorServer
from tests.support.pulumi import PulumiWorkspaceFactory, copy_stack_project

pytestmark = [pytest.mark.pulumi, pytest.mark.emulator, pytest.mark.kube, pytest.mark.slow]


def test_up_writes_the_operator_secret_and_destroy_removes_it(
    tmp_path: Path,
    pulumi_workspace: PulumiWorkspaceFactory,
    emulator: EmulatorServer,
    kube_cluster: KubeControlPlane,
) -> None:
    # The dynamic provider runs kubectl from PATH: give it the cluster's (the built, version-matched one).
    ws = pulumi_workspace(copy_stack_project(tmp_path), extra_env={"PATH": kube_cluster.env["PATH"]})
    ws.new_stack("kube")
    ws.set_config("neon:apiUrl", emulator.url)
    ws.set_config("neon:apiKey", emulator.api_key, secret=True)
    ws.set_config("neon-checkpoints:appName", f"app-{uuid.uuid4().hex[:8]}")
    ws.set_config("neon-checkpoints:kubeconfig", str(kube_cluster.kubeconfig))
    ws.set_config("neon-checkpoints:operatorNamespace", "ckpt-ops")
    try:
        up = ws.up()
        assert emulator.api_key not in up.stdout + up.stderr
        outputs = ws.outputs(show_secrets=True)
        assert outputs["operator_secret"] == "ckpt-ops/neon-checkpoints"

        got = kube_cluster.kubectl("get", "secret", "neon-checkpoints", "-n", "ckpt-ops", "-o", "json")
        data = {k: base64.b64decode(v).decode() for k, v in json.loads(got.stdout)["data"].items()}
        assert data == {
            "NEON_API_URL": emulator.url,
            "NEON_API_KEY": emulator.api_key,
            "META_DATABASE_URL": outputs["meta_database_url"],
        }
        assert ws.preview_changes() == {"same": 17}
    finally:
        ws.destroy()
    gone = kube_cluster.kubectl("get", "secret", "neon-checkpoints", "-n", "ckpt-ops", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
