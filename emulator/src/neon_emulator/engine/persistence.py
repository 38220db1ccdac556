"""The model on disk: one JSON file under the data directory, replaced atomically.

Saving is a group commit. A change only marks the state dirty (`Persister.changed`, cheap and synchronous, so
the model's callers stay plain functions); one save at a time encodes the whole state on the event loop (a
consistent view) and writes and fsyncs it in a worker thread, covering every change made before it began.
Whatever must not run ahead of the disk awaits `Persister.durable()`: every API response (nothing
acknowledged is lost by a crash) and every operation's job (no side effect, such as removing a data directory,
happens before the state that called for it is saved). Under load many changes share one write instead of
each encoding and fsyncing the whole state on the event loop, which made the emulator's answers slow.

Changes and waits name their project when they have one: a request about project A then waits only for A's
changes (and for changes of no particular project), not for the steady stream of B's during a burst.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from neon_emulator.model.state import State

STATE_FILE = "state.json"

log = logging.getLogger(__name__)


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
        self.write(self.encode(state))

    @staticmethod
    def encode(state: State) -> bytes:
        return json.dumps(state.to_json(), separators=(",", ":")).encode()

    def write(self, data: bytes) -> None:
        # Write, fsync, rename, fsync the directory: after a crash the file is the old or the new state.
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


class Persister:
    """Group commit of one `State` to its `StateFile`; used from the event loop thread only."""

    def __init__(self, file: StateFile, state: State) -> None:
        self._file = file
        self._state = state
        self._changes = 0  # changes marked so far
        self._saved = 0  # changes covered by the newest completed save
        self._latest: dict[str, int] = {}  # project id -> the number of its latest change
        self._latest_global = 0  # the number of the latest change of no particular project
        self._progress = asyncio.Event()  # set (and replaced) after every save attempt
        self._error: OSError | None = None  # of the newest save attempt
        self._saving: asyncio.Task[None] | None = None

    def changed(self, project_id: str | None = None) -> None:
        """The state changed (for `project_id`, or in general: e.g. the list of projects)."""
        self._changes += 1
        if project_id is None:
            self._latest_global = self._changes
        else:
            self._latest[project_id] = self._changes
        if self._saving is None or self._saving.done():
            self._saving = asyncio.get_running_loop().create_task(self._save_all())

    async def durable(self, project_id: str | None = None) -> None:
        """Return once every change marked before this call (for `project_id` and in general; all of them
        without one) is on disk; raise OSError if saving failed."""
        if project_id is None:
            target = self._changes
        else:
            target = max(self._latest.get(project_id, 0), self._latest_global)
        while self._saved < target:
            progress = self._progress
            if self._saving is None or self._saving.done():
                self._saving = asyncio.get_running_loop().create_task(self._save_all())
            await progress.wait()
            if self._saved < target and self._error is not None:
                raise self._error

    async def _save_all(self) -> None:
        while self._saved < self._changes:
            covered, data = self._changes, StateFile.encode(self._state)
            try:
                await asyncio.to_thread(self._file.write, data)
            except OSError as exc:
                log.error("could not save the emulator state to %s: %s", self._file.path, exc)
                self._error = exc
                self._wake()
                return  # the next change or `durable()` tries again
            self._saved, self._error = covered, None
            self._wake()

    def _wake(self) -> None:
        progress, self._progress = self._progress, asyncio.Event()
        progress.set()
