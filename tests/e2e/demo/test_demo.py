"""The main job cannot silently break: the demo's story runs non-interactively and its results are checked."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from devenv.controlplane import KubeControlPlane
from devenv.demo import PROMPTS, run_demo
from devenv.environment import LocalEnvironment
from devenv.tools import missing
from tests.support.secret_files import find_leaks, readme_patterns, secret_values

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.pulumi, pytest.mark.slow]


def test_demo_story_restores_v1_through_the_same_connection_string(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = KubeControlPlane.missing_tools() + missing(
        ("pulumi", "pulumi"), ("pulumi", "pulumi-language-python")
    )
    if absent:
        pytest.skip(f"toolchain not built yet ({', '.join(absent)}): run `make setup`")
    monkeypatch.delenv(
        "NEON_API_URL", raising=False
    )  # the local emulator, whatever the developer's shell says
    monkeypatch.delenv("NEON_API_KEY", raising=False)
    out = io.StringIO()
    workdir = tmp_path / "demo"

    leaks: list[str] = []

    def secrets_at_rest(env: LocalEnvironment) -> None:
        # Issue 20 item 7: what the run wrote (logs, Pulumi's state and logs, etcd, the emulator's and
        # its postgres servers' files) holds no secret outside the 0600 files the README lists.
        known = secret_values(
            neon_api_key=env.neon_api_key,
            app_database_url=env.outputs["app_database_url"],
            meta_database_url=env.outputs["meta_database_url"],
            pulumi_passphrase=env.passphrase_file().read_text(),
        )
        leaks.extend(find_leaks(env.workdir, known, readme_patterns(".demo/")))

    result = run_demo(workdir, out=out, before_teardown=secrets_at_rest)
    assert not leaks, "secrets on disk:\n" + "\n".join(leaks)

    v1, v2, v3 = (result.views[p.version] for p in PROMPTS)
    assert v1.columns == ("id", "name", "email")
    assert [row[1] for row in v1.rows] == ["Ada Lovelace", "Grace Hopper", "Alan Turing"]
    assert v2.columns == ("id", "name", "email", "role", "company")
    assert len(v2.rows) == 4
    assert v3.columns == ("id", "name", "email", "role", "company", "tags")
    assert len(v3.rows) == 3

    restored = result.views["restored-v1"]
    assert restored == v1, "after the restore the app must see exactly version 1"
    assert result.restore["phase"] == "Succeeded"
    assert result.restore["restoredBranchId"] != result.restore["replacedBranchId"]

    snapshots = {name: status["snapshotId"] for name, status in result.checkpoints.items()}
    assert len(set(snapshots.values())) == 3

    timeline = result.timeline
    assert [c["name"] for c in timeline["checkpoints"]] == ["v1", "v2", "v3"]
    ids = {c["name"]: c["id"] for c in timeline["checkpoints"]}
    assert [c["parent_checkpoint_id"] for c in timeline["checkpoints"]] == [None, ids["v1"], ids["v2"]]
    assert [c["source"]["commit"] for c in timeline["checkpoints"]] == [p.commit for p in PROMPTS]
    assert [(r["name"], r["checkpoint_id"], r["phase"]) for r in timeline["restores"]] == [
        ("back-to-v1", ids["v1"], "Succeeded"),
        ("undo-back-to-v1", None, "Succeeded"),
    ]
    # The code came back with the database, and went forward again with the undo (issue 14).
    assert result.code["v1"].image.endswith(":v1") and result.code["v3"].image.endswith(":v3")
    assert result.code["restored-v1"].image == result.code["v1"].image
    assert result.code["restored-v1"].query == result.code["v1"].query
    assert result.views["undone"] == v3 and result.code["undone"].image == result.code["v3"].image
    assert result.undo["restoredBranchId"] == result.restore["restoredBranchId"]  # same branch, same URI
    assert [c["workloads"][1]["revision"] for c in timeline["checkpoints"]] == [
        result.checkpoints[p.version]["workloads"][1]["revision"] for p in PROMPTS
    ]

    text = out.getvalue()
    assert "== Summary" in text and "total" in text
    assert "npg_" not in text, "no password may reach the demo's output"
    assert not workdir.exists(), "the demo tears everything down"
