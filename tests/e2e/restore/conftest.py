"""CheckpointRestore e2e: the operator engineer's harness (tests/e2e/checkpoint/conftest.py: real apiserver
with our CRDs, the emulator, a fresh meta DB, the operator as a kopf subprocess) plus what restores need:
waiting for a restore's phase, the app's database through a connection URI, Secrets."""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import yaml

# The shared fixtures, re-exported so pytest finds them for tests in this folder.
from devenv.tools import REPO_ROOT
from tests.e2e.checkpoint.conftest import Harness, crds, harness, namespace  # noqa: F401

FINAL = ("Succeeded", "Failed")


@dataclass
class RestoreHarness:
    h: Harness

    def app_uri(self, project_id: str) -> str:
        """The production connection string as the app knows it (default branch, its read_write endpoint)."""
        with self.h.neon() as neon:
            return neon.connection_uri(project_id, database_name="neondb", role_name="neondb_owner")

    def checkpoint(self, project_id: str, name: str, commit: str) -> dict[str, Any]:
        manifest = self.h.example(
            "checkpoint.yaml", project_id, **{"name: v1": f"name: {name}", "3f2c9e1": commit}
        )
        applied = self.h.apply(manifest)
        assert applied.returncode == 0, applied.stderr
        self.h.wait_ready(name)
        return self.h.get("checkpoint", name)

    def restore(
        self, name: str, checkpoint: str, *, example: str = "checkpointrestore.yaml", **spec: Any
    ) -> None:
        """`kubectl apply` an example CheckpointRestore under another name, for another Checkpoint."""
        doc = yaml.safe_load((REPO_ROOT / "examples" / example).read_text())
        doc["metadata"]["name"] = name
        doc["spec"]["checkpointRef"]["name"] = checkpoint
        doc["spec"].update(spec)
        applied = self.h.apply(yaml.safe_dump(doc))
        assert applied.returncode == 0, applied.stderr

    def wait_restore(self, name: str, phase: str = "Succeeded", timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.h.get("checkpointrestore", name)
            current = body.get("status", {}).get("phase")
            if current == phase:
                return body
            if current in FINAL:
                break
            time.sleep(0.1)
        raise AssertionError(
            f"restore {name} did not reach {phase}: {body.get('status')}\n{self.h.operator_logs()}"
        )

    def secret(self, name: str) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.h.kubectl("get", "secret", name, "-o", "json").stdout)
        body["decoded"] = {k: base64.b64decode(v).decode() for k, v in body["data"].items()}
        return body

    def branches(self, project_id: str) -> dict[str, Any]:
        """name -> branch, from the emulator."""
        with self.h.neon() as neon:
            return {b.name: b for b in neon.list_branches(project_id)}

    def restores(self) -> list[dict[str, Any]]:
        return self.h.meta_rows("SELECT * FROM restores ORDER BY id")


def sql(uri: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement on a fresh connection (a finalized restore drops the old ones); rows if any."""
    deadline = time.monotonic() + 20
    while True:
        try:
            with psycopg.connect(uri, connect_timeout=5, autocommit=True) as conn:
                cur = conn.execute(statement.encode(), params)
                return cur.fetchall() if cur.description else []
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def columns(uri: str) -> list[tuple[str, str]]:
    return [
        (str(name), str(kind))
        for name, kind in sql(
            uri,
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = 'contacts' ORDER BY ordinal_position",
        )
    ]


def contacts(uri: str) -> list[tuple[Any, ...]]:
    """Every row, without the generated id, in a stable order."""
    cols = [name for name, _ in columns(uri) if name != "id"]
    return sql(uri, f"SELECT {', '.join(cols)} FROM contacts ORDER BY email")


@pytest.fixture
def restores(harness: Harness) -> Iterator[RestoreHarness]:  # noqa: F811
    yield RestoreHarness(harness)
    # Let Preview finalizers go while the operator still runs (the harness stops it after this).
    with contextlib.suppress(subprocess.SubprocessError):
        harness.kube.kubectl(
            "-n",
            harness.namespace,
            "patch",
            "checkpointrestores",
            "--all",
            "--type=merge",
            "-p",
            '{"metadata":{"finalizers":[]}}',
            check=False,
            timeout=20,
        )
