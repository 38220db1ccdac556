"""The command line answers --help everywhere and refuses bad settings naming each of them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from neon_checkpoints.cli.main import build_parser


@pytest.mark.parametrize("argv", [["--help"], ["operator", "--help"]])
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 0
    assert "usage: neon-checkpoints" in capsys.readouterr().out


def test_operator_refuses_to_start_without_settings_and_says_why() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "neon_checkpoints", "operator"],
        env={
            "PATH": "/usr/bin:/bin",
            "NEON_API_KEY": "napi_topsecret",
            "META_DATABASE_URL": "nope",
            "NEON_CHECKPOINTS_KEEP_OLD_BRANCHES": "some",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "META_DATABASE_URL must be a postgresql:// URL" in result.stderr
    # Every kind's settings are checked in the same breath, not after kopf started.
    assert "NEON_CHECKPOINTS_KEEP_OLD_BRANCHES must be a whole number" in result.stderr
    assert "napi_topsecret" not in result.stderr + result.stdout
