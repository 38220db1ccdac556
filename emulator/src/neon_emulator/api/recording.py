"""Response recording: every /api/v2 answer appended to a JSON-lines file as
`{"method", "route", "status", "body"}` (route = the path template, e.g. `/api/v2/projects/{project_id}`;
body = the parsed JSON, null when empty). Off unless `--record-responses FILE` or
NEON_EMULATOR_RECORD_RESPONSES names a file; tests/compat validates the file against Neon's published
OpenAPI document."""

from __future__ import annotations

import json
import os
from pathlib import Path

from aiohttp import web


class ResponseRecorder:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND and one write per line: several emulators may share one file.
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def record(self, method: str, route: str, response: web.StreamResponse) -> None:
        raw = response.body if isinstance(response, web.Response) else None
        body = None
        if isinstance(raw, bytes) and raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        line = {"method": method, "route": route, "status": response.status, "body": body}
        os.write(self._fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())

    def close(self) -> None:
        os.close(self._fd)
