"""The emulator's group commit: changes share saves, `durable()` means on disk, a failed save is reported."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from neon_emulator.engine.persistence import Persister, StateFile
from neon_emulator.model.state import State
from tests.unit.emulator.test_emulator_model import create, new_model


class CountingFile(StateFile):
    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.writes = 0
        self.fail_next = False

    def write(self, data: bytes) -> None:
        if self.fail_next:
            self.fail_next = False
            raise OSError(28, "No space left on device")
        self.writes += 1
        super().write(data)


async def test_a_burst_of_changes_is_saved_in_few_writes_and_durable_means_on_disk(tmp_path: Path) -> None:
    model = new_model()
    file = CountingFile(tmp_path)
    persister = Persister(file, model.state)
    names = sorted(f"p{i}" for i in range(50))
    for name in names:
        create(model, name=name)
        persister.changed()
    await persister.durable()
    saved = json.loads(file.path.read_text())
    assert sorted(p["name"] for p in saved["projects"].values()) == names
    assert 1 <= file.writes <= 2  # the first save began at the first change; the rest share the next one
    assert file.load() == model.state


async def test_changes_made_while_a_save_runs_are_covered_by_the_next_one(tmp_path: Path) -> None:
    model = new_model()
    file = CountingFile(tmp_path)
    persister = Persister(file, model.state)
    create(model, name="first")
    persister.changed()
    await asyncio.sleep(0)  # the first save has begun
    create(model, name="second")
    persister.changed()
    await persister.durable()
    assert {p.name for p in file.load().projects.values()} == {"first", "second"}


async def test_durable_without_changes_returns_at_once_and_writes_nothing(tmp_path: Path) -> None:
    file = CountingFile(tmp_path)
    await Persister(file, State()).durable()
    assert file.writes == 0 and not file.path.exists()


async def test_a_failed_save_is_raised_to_waiters_and_retried_by_the_next_wait(tmp_path: Path) -> None:
    model = new_model()
    file = CountingFile(tmp_path)
    persister = Persister(file, model.state)
    file.fail_next = True
    create(model, name="kept")
    persister.changed()
    with pytest.raises(OSError, match="No space left"):
        await persister.durable()
    assert not file.path.exists()
    await persister.durable()
    assert [p.name for p in file.load().projects.values()] == ["kept"]


class HeldFile(StateFile):
    """Writes wait until the test lets them through."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.release = threading.Event()

    def write(self, data: bytes) -> None:
        self.release.wait(timeout=10)
        super().write(data)


async def test_a_wait_for_one_project_does_not_wait_for_another_projects_changes(tmp_path: Path) -> None:
    file = HeldFile(tmp_path)
    persister = Persister(file, State())
    persister.changed("project-b")
    await asyncio.wait_for(persister.durable("project-a"), timeout=1)  # nothing of A's is unsaved
    waiting_for_b = asyncio.ensure_future(persister.durable("project-b"))
    waiting_for_all = asyncio.ensure_future(persister.durable())
    await asyncio.sleep(0.05)
    assert not waiting_for_b.done() and not waiting_for_all.done()
    persister.changed()  # a change of no particular project: every project's answers wait for it
    waiting_for_a = asyncio.ensure_future(persister.durable("project-a"))
    await asyncio.sleep(0.05)
    assert not waiting_for_a.done()
    file.release.set()
    await asyncio.wait_for(asyncio.gather(waiting_for_a, waiting_for_b, waiting_for_all), timeout=5)
