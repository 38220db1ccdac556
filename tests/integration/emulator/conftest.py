"""A fresh project per test on the session's emulator, with an httpx client; `each_driver` for tests that
run on both storage drivers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devenv.emulator import EmulatorServer
from tests.integration.emulator.calls import call, create_project
from tests.integration.emulator.test_storage import loop_mount
from tests.support.emulator import running_emulator


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with emulator.client() as client:
        yield client


@pytest.fixture
def project(api: httpx.Client) -> Iterator[dict[str, Any]]:
    created = create_project(api, name="test-project")
    yield created
    call(api, "DELETE", f"/projects/{created['project']['id']}", wait=False)


@pytest.fixture(scope="module")
def shared_project(emulator_session: EmulatorServer) -> Iterator[dict[str, Any]]:
    """One project for a module's read-mostly tests (creating one per test costs seconds)."""
    with emulator_session.client() as client:
        created = create_project(client, name="shared-project")
        yield created
        call(client, "DELETE", f"/projects/{created['project']['id']}", wait=False)


@pytest.fixture(params=["configured", pytest.param("btrfs", marks=pytest.mark.btrfs)])
def each_driver(request: pytest.FixtureRequest, emulator: EmulatorServer) -> Iterator[EmulatorServer]:
    """The session's emulator (driver from NEON_EMULATOR_STORAGE), and one on a loop-mounted btrfs."""
    if request.param == "configured":
        yield emulator
        return
    with loop_mount("1G", "btrfs") as mnt, running_emulator(mnt / "data", storage="btrfs") as server:
        with server.admin() as admin:
            assert admin.get("/status").json()["storage_driver"] == "btrfs"
        yield server


@pytest.fixture
def story_api(each_driver: EmulatorServer) -> Iterator[httpx.Client]:
    with each_driver.client() as client:
        yield client
