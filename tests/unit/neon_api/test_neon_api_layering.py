"""neon_api is a leaf: it imports nothing of kopf, pulumi, the operator or the emulator (conventions 12)."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("kopf", "pulumi", "kubernetes", "psycopg", "neon_checkpoints", "neon_emulator")


def test_importing_neon_api_pulls_in_no_other_layer():
    code = (
        "import sys, neon_api, neon_api.sync_client, neon_api.async_client;"
        "print('\\n'.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert "neon_api" in out
    assert [name for name in FORBIDDEN if name in out] == []
