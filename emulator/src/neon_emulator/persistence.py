"""The model on disk: one JSON file under the data directory, replaced atomically after every change."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .entities import State

STATE_FILE = "state.json"


class StateFile:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / STATE_FILE
        self._tmp = data_dir / (STATE_FILE + ".tmp")

    def load(self) -> State:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return State()
        return State.from_json(raw)

    def save(self, state: State) -> None:
        # Write, fsync, rename, fsync the directory: after a crash the file is the old or the new state.
        data = json.dumps(state.to_json(), separators=(",", ":")).encode()
        fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(self._tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
