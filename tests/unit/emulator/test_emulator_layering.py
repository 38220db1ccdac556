"""The emulator's layers (conventions 6, 12): the model does no I/O and knows neither the HTTP layer nor the
engine; the engine knows no HTTP; nothing of the emulator imports neon_api or the operator."""

from __future__ import annotations

import subprocess
import sys

import pytest

NEVER = ["neon_api", "neon_checkpoints", "kopf", "pulumi"]
EMULATOR = "neon_emulator"
ABOVE_THE_MODEL = ["api", "engine", "storage", "faults", "server", "cli"]


def imported_by_every_module_of(package: str) -> set[str]:
    code = (
        "import importlib, pkgutil, sys;"
        f"package = importlib.import_module({package!r});"
        "modules = pkgutil.walk_packages(package.__path__, package.__name__ + '.');"
        "[importlib.import_module(m.name) for m in modules if not m.name.endswith('__main__')];"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    return set(out)


def within(names: set[str], prefixes: list[str]) -> list[str]:
    return sorted(n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("neon_emulator.model", ["aiohttp", "psycopg", *(f"{EMULATOR}.{p}" for p in ABOVE_THE_MODEL)]),
        ("neon_emulator.engine", ["aiohttp", f"{EMULATOR}.api", f"{EMULATOR}.server", f"{EMULATOR}.cli"]),
        (EMULATOR, []),
    ],
)
def test_a_layer_imports_nothing_above_it(package: str, forbidden: list[str]) -> None:
    assert within(imported_by_every_module_of(package), forbidden + NEVER) == []
