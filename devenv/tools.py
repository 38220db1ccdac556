"""Where things are: the repository, the virtualenv's console scripts, the toolchain built by
hack/build-tools.sh (a cache outside the repo) and the PostgreSQL server binaries."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
HACK_DIR = REPO_ROOT / "hack"
# The virtualenv this Python runs in: its bin/ holds `neon-checkpoints`, `neon-emulator` and `python`.
VENV_BIN = Path(sys.executable).parent


def console_script(name: str) -> Path:
    """A console script of the project (`neon-checkpoints`, `neon-emulator`) in the running virtualenv."""
    return VENV_BIN / name


def versions() -> dict[str, str]:
    """The pinned toolchain versions from hack/versions.env."""
    pins: dict[str, str] = {}
    for line in (HACK_DIR / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            pins[key.strip()] = value.strip()
    return pins


def tools_root() -> Path:
    default = Path.home() / ".cache" / "neon-checkpoints-tools"
    return Path(os.environ.get("NEON_CKPT_TOOLS", default))


def bin_dir(tool: str) -> Path:
    """bin/ of one built tool: tool is kube, etcd, pulumi or helm."""
    key = {
        "kube": "KUBE_VERSION",
        "etcd": "ETCD_VERSION",
        "pulumi": "PULUMI_VERSION",
        "helm": "HELM_VERSION",
    }[tool]
    return tools_root() / f"{tool}-{versions()[key]}" / "bin"


def tool_path(tool: str, binary: str) -> Path:
    return bin_dir(tool) / binary


def missing(*binaries: tuple[str, str]) -> list[str]:
    """Names of the (tool, binary) pairs that are not built yet."""
    return [name for tool, name in binaries if not tool_path(tool, name).is_file()]


def postgres_bin_dir() -> Path:
    """The newest installed PostgreSQL server's bin/ (Debian layout), or wherever initdb is on PATH."""
    override = os.environ.get("NEON_EMULATOR_PG_BIN")
    if override:
        return Path(override)
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    if found is None:
        raise FileNotFoundError("PostgreSQL server binaries not found: run `make setup`")
    return Path(found).resolve().parent


def write_private(path: Path, text: str) -> None:
    """Write a file that holds a secret, mode 0600 from its creation on (README: "Files with secrets")."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(fd, "w") as out:
        out.write(text)
