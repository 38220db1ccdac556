"""`neon-checkpoints`: the parser, and the subcommands that register themselves on it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from neon_checkpoints.cli import operator, schema, status, timeline, ui

# Modules exposing `register(subparsers)`; each sets `func(args) -> int` on its parser.
SUBCOMMANDS = (operator, timeline, status, schema, ui)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neon-checkpoints",
        description="Checkpoints for agent-built apps: Neon snapshots and restores driven from Kubernetes.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
