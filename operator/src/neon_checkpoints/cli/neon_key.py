"""The user's own Neon API key for `diff --data` and the ui's data diff: `--neon-api-key-file FILE`, else
$NEON_API_KEY. Only where the key comes from is ever printed, never the key. Light to import (no settings,
no Neon client): `show` and `diff` without --data import it too."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ENV = "NEON_API_KEY"
FLAG = "--neon-api-key-file"


class KeyFileError(Exception):
    """The key file named cannot be used; the message names the file, never its content."""


def add_arguments(parser: argparse.ArgumentParser, when: str) -> None:
    parser.add_argument(
        "--neon-api-url",
        default=None,
        help=f"{when}: the Neon API (default: $NEON_API_URL or Neon's)",
    )
    parser.add_argument(
        FLAG,
        default=None,
        metavar="FILE",
        help=f"{when}: a file holding your Neon API key (default: the key in ${ENV})",
    )


def api_url(given: str | None) -> str:
    from neon_checkpoints.settings import DEFAULT_NEON_API_URL

    return given or os.environ.get("NEON_API_URL") or DEFAULT_NEON_API_URL


def resolve(key_file: str | None) -> str | None:
    """The key, or None when none is configured."""
    if key_file:
        try:
            key = Path(key_file).read_text().strip()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise KeyFileError(f"cannot read {FLAG} {key_file}: {reason}") from None
        if not key:
            raise KeyFileError(f"{FLAG} {key_file} is empty")
        return key
    return os.environ.get(ENV) or None


def hint(command: str) -> str:
    """How to give `command` the key, for a page or an error to say."""
    return f"start `{command}` with your Neon API key in ${ENV}, or pass {FLAG} FILE"
