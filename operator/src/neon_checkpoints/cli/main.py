"""`neon-checkpoints`: the parser, and the subcommands that register themselves on it.

A subcommand's module is imported only when it is needed: `neon-checkpoints diff` builds a parser with the
schema commands alone, so it does not pay for what `operator` or `status` import (httpx, the Neon client,
settings); `--help`, no command or an unknown one builds the whole parser."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

# Modules exposing `register(subparsers)` (each sets `func(args) -> int` on its parser), with the
# commands each registers, in the order `--help` lists them.
SUBCOMMANDS: dict[str, tuple[str, ...]] = {
    "neon_checkpoints.cli.operator": ("operator",),
    "neon_checkpoints.cli.timeline": ("timeline",),
    "neon_checkpoints.cli.status": ("status",),
    "neon_checkpoints.cli.schema": ("show", "diff"),
    "neon_checkpoints.cli.ui": ("ui",),
}


def _modules(command: str | None) -> list[ModuleType]:
    names = [m for m, commands in SUBCOMMANDS.items() if command is None or command in commands]
    return [importlib.import_module(m) for m in names or SUBCOMMANDS]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with only the module that registers `command`."""
    parser = argparse.ArgumentParser(
        prog="neon-checkpoints",
        description="Checkpoints for agent-built apps: Neon snapshots and restores driven from Kubernetes.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _modules(command):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    first = arguments[0] if arguments else None
    args = build_parser(first).parse_args(arguments)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
