"""A fresh project per test on the session's emulator, with an httpx client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devenv.emulator import EmulatorServer
from tests.integration.emulator.calls import call, create_project


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
