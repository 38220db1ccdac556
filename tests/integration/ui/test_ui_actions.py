"""`neon-checkpoints ui` as users run it, against the real kube-apiserver with our CRDs and a real meta
database: it listens on loopback only and prints its URL; a confirmed action creates exactly the
CheckpointRestore its YAML showed; a user without the right is told Forbidden (a ServiceAccount token
kubeconfig, through the apiserver's own RBAC); an undo needs the CRD's `spec.undo` (issue 14)."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from devenv.controlplane import KubeControlPlane
from devenv.ui_process import UiProcess, running_ui
from neon_checkpoints.meta.store import MetaStore

pytestmark = [pytest.mark.kube, pytest.mark.postgres]

P = "gentle-river-202020"


def kubectl(kube: KubeControlPlane, ns: str, *args: str, input: str | None = None) -> str:
    return kube.kubectl("-n", ns, *args, input=input).stdout


def put(kube: KubeControlPlane, ns: str, doc: dict[str, Any], status: dict[str, Any]) -> None:
    kubectl(kube, ns, "apply", "-f", "-", input=yaml.safe_dump(doc))
    plural = {"Checkpoint": "checkpoints", "CheckpointRestore": "checkpointrestores"}[doc["kind"]]
    name = doc["metadata"]["name"]
    kubectl(kube, ns, "patch", plural, name, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": status}))  # fmt: skip


def seed(kube: KubeControlPlane, ns: str) -> None:
    for name in ("v1", "v2"):
        doc = {"apiVersion": "neoncheckpoints.dev/v1alpha1", "kind": "Checkpoint", "metadata": {"name": name},
               "spec": {"projectId": P, "source": {"commit": f"c-{name}"}}}  # fmt: skip
        put(kube, ns, doc, {"phase": "Ready"})
    doc = {"apiVersion": "neoncheckpoints.dev/v1alpha1", "kind": "CheckpointRestore",
           "metadata": {"name": "back-to-v1"}, "spec": {"checkpointRef": {"name": "v1"}}}  # fmt: skip
    put(kube, ns, doc, {"phase": "Succeeded"})


@pytest.fixture
async def meta(fresh_database: str) -> str:
    """A migrated meta database (the operator's own migrations), empty."""
    store = await MetaStore.open(fresh_database, max_size=1)
    await store.close()
    return fresh_database


@pytest.fixture
def seeded(crds: KubeControlPlane, namespace: str) -> str:
    seed(crds, namespace)
    return namespace


@pytest.fixture
def ui(crds: KubeControlPlane, seeded: str, meta: str, tmp_path: Path) -> Iterator[UiProcess]:
    with running_ui(
        kubeconfig=crds.kubeconfig, meta_database_url=meta, namespace=seeded, log_path=tmp_path / "ui.log"
    ) as process:
        yield process


def browser(ui: UiProcess) -> httpx.Client:
    return httpx.Client(
        base_url=ui.url, headers={"Origin": ui.url.rstrip("/"), "Sec-Fetch-Site": "same-origin"}
    )


def plan(client: httpx.Client, action: str, target: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The confirm page: its hidden form fields and the YAML it shows."""
    page = client.get(f"/apps/{P}/plan", params={"action": action, "target": target})
    assert page.status_code == 200, page.text
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    shown = re.search(r'<pre id="manifest"[^>]*>(.*?)</pre>', page.text, re.S)
    assert shown
    return form, yaml.safe_load(html.unescape(shown.group(1)))


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a listening TCP socket on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_it_listens_on_loopback_only_and_prints_its_url(ui: UiProcess) -> None:
    assert ui.url.startswith("http://127.0.0.1:")
    port = int(ui.url.rsplit(":", 1)[1].strip("/"))
    assert listening_addresses(port) == {"0100007F"}, "127.0.0.1 only"
    assert httpx.get(ui.url).status_code == 200


def test_a_confirmed_restore_creates_the_restore_its_yaml_showed(
    ui: UiProcess,
    crds: KubeControlPlane,
    seeded: str,
) -> None:
    with browser(ui) as client:
        form, shown = plan(client, "restore", "v2")
        answer = client.post(f"/apps/{P}/restores", data=form)
        assert answer.status_code == 303, answer.text
        assert answer.headers["Location"].endswith(f"/restores/{form['name']}")
        stored = json.loads(kubectl(crds, seeded, "get", "checkpointrestore", form["name"], "-o", "json"))
        assert stored["metadata"]["name"] == shown["metadata"]["name"] == form["name"]
        defaults = {"oldBranchPolicy": "Retain", "workloads": "Restore", "quiesce": False}
        assert stored["spec"] == {**shown["spec"], **defaults}, "plus the CRD's defaults"
        progress = client.get(answer.headers["Location"])
        assert progress.status_code == 200 and 'id="phase"' in progress.text


def token_kubeconfig(kube: KubeControlPlane, ns: str, account: str, verbs: list[str], path: Path) -> Path:
    """A kubeconfig for a ServiceAccount allowed only `verbs` on our resources in `ns` (real RBAC)."""
    kubectl(kube, ns, "create", "serviceaccount", account)
    if verbs:
        resources = "--resource=checkpoints.neoncheckpoints.dev,checkpointrestores.neoncheckpoints.dev"
        kubectl(kube, ns, "create", "role", account, f"--verb={','.join(verbs)}", resources)
        kubectl(kube, ns, "create", "rolebinding", account, f"--role={account}",
                f"--serviceaccount={ns}:{account}")  # fmt: skip
    token = kubectl(kube, ns, "create", "token", account).strip()
    admin = yaml.safe_load(kube.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    ca = base64.b64encode(Path(cluster["certificate-authority"]).read_bytes()).decode()
    server = {"server": cluster["server"], "certificate-authority-data": ca}
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "local", "cluster": server}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "local", "user": account, "namespace": ns}}],
    }))  # fmt: skip
    return path


def test_a_user_who_may_not_create_restores_is_told_forbidden(
    crds: KubeControlPlane,
    seeded: str,
    meta: str,
    tmp_path: Path,
) -> None:
    config = token_kubeconfig(
        crds, seeded, "viewer", ["get", "list", "watch"], tmp_path / "viewer.kubeconfig"
    )
    with running_ui(
        kubeconfig=config, meta_database_url=meta, namespace=seeded, log_path=tmp_path / "ui.log"
    ) as ui:
        with browser(ui) as client:
            page = client.get(f"/apps/{P}")
            assert 'class="node checkpoint' in page.text and "Forbidden" not in page.text
            form, _ = plan(client, "restore", "v2")
            answer = client.post(f"/apps/{P}/restores", data=form)
        assert answer.status_code == 403
        assert "Forbidden: your Kubernetes user may not create checkpointrestores" in answer.text
    assert form["name"] not in kubectl(crds, seeded, "get", "checkpointrestores", "-o", "name")


def test_a_user_who_may_not_list_sees_forbidden_on_the_page(
    crds: KubeControlPlane,
    seeded: str,
    meta: str,
    tmp_path: Path,
) -> None:
    config = token_kubeconfig(crds, seeded, "nobody", [], tmp_path / "nobody.kubeconfig")
    with running_ui(
        kubeconfig=config, meta_database_url=meta, namespace=seeded, log_path=tmp_path / "ui.log"
    ) as ui:
        page = httpx.get(f"{ui.url}apps/{P}")
    assert page.status_code == 200
    assert f"Forbidden: your Kubernetes user may not list checkpoints in namespace {seeded}" in page.text


def test_an_undo_creates_a_restore_with_undo_restore_ref(
    ui: UiProcess,
    crds: KubeControlPlane,
    seeded: str,
) -> None:
    with browser(ui) as client:
        form, shown = plan(client, "undo", "back-to-v1")
        assert shown["spec"] == {"undo": {"restoreRef": {"name": "back-to-v1"}}}
        answer = client.post(f"/apps/{P}/restores", data=form)
        assert answer.status_code == 303, answer.text
    stored = json.loads(kubectl(crds, seeded, "get", "checkpointrestore", form["name"], "-o", "json"))
    assert stored["spec"]["undo"] == {"restoreRef": {"name": "back-to-v1"}}
