"""operator/Dockerfile, checked as far as a machine without a container engine allows: its builder stage's
context builds the wheel, the wheel installs into a fresh venv and its console script starts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from devenv.tools import REPO_ROOT

DOCKERFILE = REPO_ROOT / "operator" / "Dockerfile"
PIP_TIMEOUT = 300.0


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def stages() -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            out.append([])
        if out:
            out[-1].append((keyword, rest))
    return out


def test_dockerfile_is_multi_stage_non_root_and_runs_the_operator() -> None:
    builder, runtime = stages()
    assert builder[0][1].endswith(" AS builder")
    args = dict(rest.split("=", 1) for kw, rest in instructions() if kw == "ARG" and "=" in rest)
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", args["PYTHON_IMAGE"])
    # The runtime stage takes only the built venv from the builder, nothing from the build context.
    copies = [rest for kw, rest in runtime if kw == "COPY"]
    assert copies == ["--from=builder /opt/neon-checkpoints /opt/neon-checkpoints"]
    (user,) = [rest for kw, rest in runtime if kw == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "numeric non-root uid, so runAsNonRoot can be verified"
    (entrypoint,) = [rest for kw, rest in runtime if kw == "ENTRYPOINT"]
    (cmd,) = [rest for kw, rest in runtime if kw == "CMD"]
    assert entrypoint == '["neon-checkpoints"]'
    assert cmd.startswith('["operator"')


def build_context(root: Path) -> Path:
    """The files the builder stage COPYs, laid out as in the image's /src."""
    builder = stages()[0]
    for keyword, rest in builder:
        if keyword != "COPY":
            continue
        *sources, dest = rest.split()
        for source in sources:
            target = root / dest if dest not in (".", "./") else root
            src = REPO_ROOT / source
            if src.is_dir():
                shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target / src.name)
    return root


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel as the builder stage builds it (`pip wheel --no-deps .` in its context)."""
    tmp_path = tmp_path_factory.mktemp("image")
    context = build_context(tmp_path / "src")
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), "."],
        cwd=context,
        check=True,
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
    )
    (built,) = wheels.glob("neon_checkpoints-*.whl")
    return built


def fresh_venv(path: Path) -> Path:
    # No pip inside: this environment's pip installs into it (--python), which saves seconds per test.
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=PIP_TIMEOUT
    )
    return path / "bin"


def pip_install(bindir: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(bindir / "python"), "install", "--quiet", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
    )


def assert_console_script_runs_from(bindir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    for argv in (["--help"], ["operator", "--help"]):
        result = subprocess.run(
            [str(bindir / "neon-checkpoints"), *argv],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=bindir,
        )
        assert result.returncode == 0, result.stderr
        assert "usage" in result.stdout.lower(), result.stdout
    where = subprocess.run(
        [str(bindir / "python"), "-c", "import neon_checkpoints; print(neon_checkpoints.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
        cwd=bindir,
    ).stdout
    assert where.startswith(str(bindir.parent)), f"imported from {where}, not from the installed wheel"


def test_wheel_from_the_build_context_installs_and_its_console_script_starts(
    wheel: Path, tmp_path: Path
) -> None:
    """Fast: the wheel alone (--no-deps) in a fresh venv that borrows the locked dependencies of this
    environment through a .pth path line (so the project's own editable install is not visible)."""
    bindir = fresh_venv(tmp_path / "venv")
    pip_install(bindir, "--no-deps", str(wheel))
    site = subprocess.run(
        [str(bindir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    Path(site, "locked-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    assert_console_script_runs_from(bindir)


@pytest.mark.slow
def test_dockerfile_recipe_installs_the_wheel_with_its_locked_dependencies(
    wheel: Path, tmp_path: Path
) -> None:
    """What the builder stage runs: the wheel plus its dependencies from PyPI, pinned by the lock."""
    bindir = fresh_venv(tmp_path / "venv")
    pip_install(bindir, "--constraint", str(REPO_ROOT / "requirements.lock"), str(wheel))
    assert_console_script_runs_from(bindir)
