"""The Argo CD health scripts (argocd/resource_customizations/neoncheckpoints.dev/<Kind>/health.lua) run as
Argo CD runs them: in Lua 5.1 (the language gopher-lua implements; lupa's lua51 runtime) with the resource
as the global `obj`, against every case of the kind's health_test.yaml (Argo CD's own test format:
healthStatus {status, message} and inputPath)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51

from devenv.tools import REPO_ROOT

CUSTOMIZATIONS = REPO_ROOT / "argocd" / "resource_customizations" / "neoncheckpoints.dev"
KINDS = ("Checkpoint", "CheckpointRestore", "CheckpointSchedule")
# What Argo CD's Lua VM offers health scripts; anything else (os, io, require of files) is not there.
SAFE_GLOBALS = ("os", "io", "dofile", "loadfile", "require")


def cases() -> list[Any]:
    found = []
    for kind in KINDS:
        spec = yaml.safe_load((CUSTOMIZATIONS / kind / "health_test.yaml").read_text())
        for test in spec["tests"]:
            found.append(pytest.param(kind, test, id=f"{kind}-{Path(test['inputPath']).stem}"))
    return found


def to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return runtime.table_from({k: to_lua(runtime, v) for k, v in value.items()})
    if isinstance(value, list):
        return runtime.table_from([to_lua(runtime, v) for v in value])
    return value


def health(kind: str, resource: dict[str, Any]) -> dict[str, str]:
    runtime = lua51.LuaRuntime(register_eval=False)
    for name in SAFE_GLOBALS:
        runtime.execute(f"{name} = nil")
    runtime.globals().obj = to_lua(runtime, resource)
    script = (CUSTOMIZATIONS / kind / "health.lua").read_text()
    result = runtime.execute(script)
    return dict(result.items())


@pytest.mark.parametrize(("kind", "test"), cases())
def test_health_script_answers_as_its_test_says(kind: str, test: dict[str, Any]) -> None:
    resource = yaml.safe_load((CUSTOMIZATIONS / kind / test["inputPath"]).read_text())
    assert health(kind, resource) == test["healthStatus"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_covers_the_states_argo_cd_shows(kind: str) -> None:
    spec = yaml.safe_load((CUSTOMIZATIONS / kind / "health_test.yaml").read_text())
    statuses = {test["healthStatus"]["status"] for test in spec["tests"]}
    expected = {"Healthy", "Progressing", "Degraded"} | (
        {"Suspended"} if kind == "CheckpointSchedule" else set()
    )
    assert statuses == expected
    for test in spec["tests"]:
        assert (CUSTOMIZATIONS / kind / test["inputPath"]).is_file()


def test_scripts_keep_to_the_gopher_lua_subset() -> None:
    for kind in KINDS:
        script = (CUSTOMIZATIONS / kind / "health.lua").read_text()
        # Lua 5.2+ only (goto, integer division, bit operators) or modules Argo CD does not load.
        for construct in ("goto ", "//", "require(", "os.", "io.", "string.pack", "utf8."):
            assert construct not in script.replace("-- ", ""), (kind, construct)
