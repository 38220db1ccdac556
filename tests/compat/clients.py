"""Neon's own clients, run against the emulator: the `neonctl` CLI and the TypeScript SDK (through sdk.cjs)
from tests/compat/node_modules, and SQL through psycopg on the connection strings they hand out."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg

from devenv.emulator import EmulatorServer

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
SPEC = NODE_MODULES / "@neondatabase" / "api-client" / "public-v2-for-users.gen.yaml"
INSTALL = HERE.parent.parent / "hack" / "install-compat-clients.sh"
PYTHON_SDK = HERE / "python-sdk" / "neon_api"
SDK_ALIAS = "neon_sdk"
TIMEOUT = 120


def missing_node() -> str | None:
    """Why Neon's JavaScript clients cannot run here, or None."""
    absent = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"{' and '.join(absent)} not found on PATH" if absent else None


def install() -> None:
    """hack/install-compat-clients.sh (npm ci and pip from the locks; a no-op when already installed)."""
    subprocess.run([str(INSTALL)], check=True, timeout=600, env={**os.environ, "PYTHON": sys.executable})


def python_sdk() -> ModuleType:
    """Neon's Python SDK (PyPI `neon-api`), imported as `neon_sdk`: its own name, `neon_api`, is this
    project's client package. Its modules import each other relatively, so the alias holds for all of them."""
    if SDK_ALIAS in sys.modules:
        return sys.modules[SDK_ALIAS]
    if not PYTHON_SDK.is_dir():
        install()
    spec = importlib.util.spec_from_file_location(
        SDK_ALIAS, PYTHON_SDK / "__init__.py", submodule_search_locations=[str(PYTHON_SDK)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[SDK_ALIAS] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no HTTP answer (the error is in `error`)
    data: Any = None
    error: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _env(server: EmulatorServer, api_key: str | None) -> dict[str, str]:
    return {
        **os.environ,
        "NEON_API_HOST": server.url,
        "NEON_API_KEY": server.api_key if api_key is None else api_key,
        "NO_COLOR": "1",
    }


@dataclass(frozen=True)
class TsSdk:
    """`@neondatabase/api-client`: one SDK method per node process (sdk.cjs)."""

    server: EmulatorServer
    api_key: str | None = None

    def call(self, method: str, *args: Any) -> Answer:
        out = subprocess.run(
            ["node", str(HERE / "sdk.cjs"), method, json.dumps(list(args))],
            cwd=HERE,
            env=_env(self.server, self.api_key),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        try:
            answer = json.loads(out.stdout)
        except ValueError:
            raise AssertionError(f"sdk.cjs {method}: {out.stdout}\n{out.stderr}") from None
        return Answer(answer["status"], answer.get("data"), answer.get("error"))

    def ok(self, method: str, *args: Any) -> Any:
        answer = self.call(method, *args)
        assert answer.ok, f"{method}{args}: HTTP {answer.status}: {answer.error}"
        return answer.data

    def wait_operations(self, project_id: str) -> list[dict[str, Any]]:
        out = subprocess.run(
            ["node", str(HERE / "sdk.cjs"), "waitOperations", project_id],
            cwd=HERE,
            env=_env(self.server, self.api_key),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert out.returncode == 0, f"waitOperations: {out.stdout}\n{out.stderr}"
        ops: list[dict[str, Any]] = json.loads(out.stdout)["operations"]
        return ops


@dataclass(frozen=True)
class Neonctl:
    """The `neonctl` binary with its config in `config_dir` (never the user's ~/.config/neon)."""

    server: EmulatorServer
    config_dir: Path
    api_key: str | None = None

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(NODE_MODULES / ".bin" / "neonctl"), "--no-analytics", "--no-color"]
        argv += ["--config-dir", str(self.config_dir), "--output", "json", *args]
        return subprocess.run(
            argv,
            cwd=self.config_dir,  # neonctl reads and writes a `.neon` context file in its working directory
            env=_env(self.server, self.api_key),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    def json(self, *args: str) -> Any:
        out = self.run(*args)
        assert out.returncode == 0, f"neonctl {' '.join(args)} exited {out.returncode}:\n{out.stderr}"
        return json.loads(out.stdout)

    def text(self, *args: str) -> str:
        out = self.run(*args)
        assert out.returncode == 0, f"neonctl {' '.join(args)} exited {out.returncode}:\n{out.stderr}"
        return out.stdout.strip()


def sql(uri: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement on a connection string as a client gave it; rows when it returns any."""
    with psycopg.connect(uri, connect_timeout=10, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(statement.encode())
        return cur.fetchall() if cur.description else []
