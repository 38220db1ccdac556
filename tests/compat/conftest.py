"""Fixtures for the compatibility suite: Neon's own clients (npm: neonctl, @neondatabase/api-client; PyPI:
neon-api) against the session's emulator over HTTP. The JavaScript clients come from package-lock.json
(hack/install-compat-clients.sh, also run by `make setup`); without node/npm their tests skip, saying so."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv.emulator import EmulatorServer
from tests.compat import clients


@pytest.fixture(scope="session")
def node_clients() -> None:
    reason = clients.missing_node()
    if reason is not None:
        pytest.skip(f"Neon's JavaScript clients need Node.js and npm: {reason}")
    clients.install()


@pytest.fixture
def neonctl(node_clients: None, emulator: EmulatorServer, tmp_path: Path) -> clients.Neonctl:
    return clients.Neonctl(emulator, tmp_path)


@pytest.fixture
def ts_sdk(node_clients: None, emulator: EmulatorServer) -> clients.TsSdk:
    return clients.TsSdk(emulator)
