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


def test_each_command_is_built_from_its_own_module_only() -> None:
    """main.py's table of commands matches what each module registers, so `diff` loads the schema module
    alone, and the whole parser still lists every command."""
    import argparse

    from neon_checkpoints.cli.main import SUBCOMMANDS

    def commands(parser: argparse.ArgumentParser) -> list[str]:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return list(action.choices)

    assert commands(build_parser()) == [c for names in SUBCOMMANDS.values() for c in names]
    for names in SUBCOMMANDS.values():
        for name in names:
            assert commands(build_parser(name)) == list(names)
    assert commands(build_parser("--help")) == commands(build_parser())


def test_diff_does_not_import_the_neon_client_or_kopf() -> None:
    """Start-up time of `neon-checkpoints diff` (issue 15 item 6): only --data needs httpx."""
    code = (
        "import sys; from neon_checkpoints.cli.main import build_parser; build_parser('diff');"
        "print(sorted(m for m in ('httpx', 'kopf', 'kubernetes', 'neon_api') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
