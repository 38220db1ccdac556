"""`neon-emulator serve` as a user runs it: --help, the start-up line, the key, flags, SIGTERM."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.support.emulator import emulator_data_dir, running_emulator

pytestmark = [pytest.mark.emulator]

OPTIONS = (
    "--host",
    "--port",
    "--data-dir",
    "--storage",
    "--seed",
    "--op-delay",
    "--fault",
    "--fail-operation",
    "--latency",
    "--rate-limit",
    "--faults-json",
    "--min-free-bytes",
    "--log-level",
)


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "neon_emulator", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_help_documents_every_option_and_the_fault_json() -> None:
    result = _run("serve", "--help")
    assert result.returncode == 0
    for option in OPTIONS:
        assert option in result.stdout
    for word in (
        "NEON_EMULATOR_API_KEY",
        "NEON_EMULATOR_FAULTS",
        "/admin/faults",
        "/admin/requests",
        "kill -9",
    ):
        assert word in result.stdout


@pytest.mark.parametrize(
    ("extra", "env", "needle"),
    [
        ((), {}, "NEON_EMULATOR_API_KEY"),
        (("--fault", "GET status=503"), {"NEON_EMULATOR_API_KEY": "k"}, "path"),
        (("--fail-operation", "create_branch=7"), {"NEON_EMULATOR_API_KEY": "k"}, "RATE"),
        ((), {"NEON_EMULATOR_API_KEY": "k", "NEON_EMULATOR_FAULTS": '{"rules": 1}'}, "rules"),
        (("--rate-limit", "lots"), {"NEON_EMULATOR_API_KEY": "k"}, "--rate-limit 'lots'"),
        (
            (),
            {"NEON_EMULATOR_API_KEY": "k", "NEON_EMULATOR_FAULTS": '{"rate_limit": {"per_minute": -5}}'},
            "rate_limit.per_minute",
        ),
    ],
)
def test_bad_start_up_configuration_is_refused(
    tmp_path: object, extra: tuple[str, ...], env: dict[str, str], needle: str
) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEON_EMULATOR_")}
    result = _run("serve", "--data-dir", "/nonexistent/never-created", *extra, env={**base, **env})
    assert result.returncode == 2 and needle in result.stderr and "Traceback" not in result.stderr


@pytest.mark.postgres
def test_start_up_line_flags_and_clean_sigterm() -> None:
    faults = json.dumps({"rules": [{"method": "GET", "path": "/api/v2/projects", "status": 429, "times": 1}]})
    args = ["--fault", "GET /api/v2/projects status=503 times=1", "--op-delay", "0.01", "--seed", "3"]
    with (
        emulator_data_dir("cli") as data_dir,
        running_emulator(data_dir, args=args, env={"NEON_EMULATOR_FAULTS": faults}) as server,
    ):
        first_line = server.log_path.read_text().splitlines()
        banner = next(line for line in first_line if line.startswith("neon-emulator: serving"))
        assert server.url in banner and "storage driver: " in banner
        assert server.api_key not in server.log_path.read_text()
        assert server.api_key[-4:] in banner
        with server.client() as api:
            # The env JSON's rule comes first, then the --fault rule; each fires once.
            assert [api.get("/projects").status_code for _ in range(3)] == [429, 503, 200]
        status = httpx.get(f"{server.admin_url}/status", headers=server.headers).json()
        assert status["storage_driver"] in ("copy", "btrfs")
    # running_emulator's exit sent SIGTERM and checked exit status 0 and that no postgres was left behind.
