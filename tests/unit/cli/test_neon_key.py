"""Where `diff --data` and the ui's data diff get the user's Neon key: --neon-api-key-file, else
$NEON_API_KEY; a bad file is named, its content never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from neon_checkpoints.cli import neon_key
from neon_checkpoints.cli.main import build_parser


def test_the_key_file_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEON_API_KEY", "from-env")
    (tmp_path / "key").write_text("from-file\n")
    assert neon_key.resolve(str(tmp_path / "key")) == "from-file"
    assert neon_key.resolve(None) == "from-env"
    monkeypatch.delenv("NEON_API_KEY")
    assert neon_key.resolve(None) is None


def test_a_missing_or_empty_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(neon_key.KeyFileError, match=r"cannot read --neon-api-key-file .*/nope: No such file"):
        neon_key.resolve(str(tmp_path / "nope"))
    (tmp_path / "empty").write_text(" \n")
    with pytest.raises(neon_key.KeyFileError, match=r"--neon-api-key-file .*/empty is empty"):
        neon_key.resolve(str(tmp_path / "empty"))


@pytest.mark.parametrize("command", [["ui"], ["diff", "a", "b"]])
def test_ui_and_diff_take_the_same_flags(command: list[str], tmp_path: Path) -> None:
    args = build_parser().parse_args(
        [*command, "--neon-api-key-file", "/k", "--neon-api-url", "http://x/api"]
    )
    assert (args.neon_api_key_file, args.neon_api_url) == ("/k", "http://x/api")


def test_ui_refuses_an_unreadable_key_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["ui", "--meta-database-url", "postgresql://x/y", "--neon-api-key-file", str(tmp_path / "nope")]
    )
    assert args.func(args) == 2
    assert "error: cannot read --neon-api-key-file" in capsys.readouterr().err
