"""The chart's CRDs are copies of crds/ (the single source), and hack/sync-chart-crds.sh keeps them so."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from devenv.tools import REPO_ROOT

SOURCE = REPO_ROOT / "crds"
CHART_CRDS = REPO_ROOT / "charts" / "neon-checkpoints" / "crds"
SYNC = REPO_ROOT / "hack" / "sync-chart-crds.sh"


def yaml_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.yaml"))


def test_chart_ships_exactly_the_crds_of_crds_dir() -> None:
    assert yaml_names(SOURCE), "crds/ holds no CRD"
    assert yaml_names(CHART_CRDS) == yaml_names(SOURCE), "run hack/sync-chart-crds.sh"
    for name in yaml_names(SOURCE):
        assert (CHART_CRDS / name).read_bytes() == (SOURCE / name).read_bytes(), (
            f"charts/neon-checkpoints/crds/{name} differs from crds/{name}: run hack/sync-chart-crds.sh"
        )


def make_checkout(root: Path) -> Path:
    """A copy of the parts of the repo the script touches, so the test never edits the real chart."""
    (root / "hack").mkdir()
    shutil.copy2(SYNC, root / "hack" / SYNC.name)
    shutil.copytree(SOURCE, root / "crds")
    shutil.copytree(CHART_CRDS, root / "charts" / "neon-checkpoints" / "crds")
    return root / "hack" / SYNC.name


def run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, timeout=30)


def test_check_names_drifted_and_stale_copies_and_sync_repairs_them(tmp_path: Path) -> None:
    script = make_checkout(tmp_path)
    chart_crds = tmp_path / "charts" / "neon-checkpoints" / "crds"
    first = yaml_names(SOURCE)[0]
    (chart_crds / first).write_text((chart_crds / first).read_text() + "# edited in the chart\n")
    (chart_crds / "retired.yaml").write_text("kind: CustomResourceDefinition\n")

    drift = run(script, "--check")
    assert drift.returncode == 1
    assert first in drift.stderr
    assert "retired.yaml" in drift.stderr

    assert run(script).returncode == 0
    assert run(script, "--check").returncode == 0
    assert yaml_names(chart_crds) == yaml_names(SOURCE)
    assert (chart_crds / first).read_bytes() == (SOURCE / first).read_bytes()
