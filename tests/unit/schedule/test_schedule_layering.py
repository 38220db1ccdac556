"""The schedule planners are pure: importing them pulls in no I/O library (conventions item 12)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = ("neon_checkpoints.cron", "neon_checkpoints.schedules", "neon_checkpoints.expiry")
IO_LIBRARIES = ("kopf", "kubernetes", "httpx", "psycopg", "psycopg_pool", "aiohttp")


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_io_library(module: str) -> None:
    probe = (
        f"import sys, {module}; "
        f"print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {IO_LIBRARIES!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == [], f"{module} imports {result.stdout.strip()}"
