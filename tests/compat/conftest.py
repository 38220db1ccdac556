"""Fixtures for the compatibility suite: Neon's own clients (npm: neonctl, @neondatabase/api-client; PyPI:
neon-api) against the session's emulator over HTTP. The JavaScript clients come from package-lock.json
(hack/install-compat-clients.sh, also run by `make setup`); without node/npm their tests skip, saying so."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from devenv.emulator import EmulatorServer
from tests.compat import clients
from tests.compat.test_openapi import unserved_summary

LAST = "test_answers_match_neons_openapi_document"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The OpenAPI check validates every answer the session's emulator recorded: it runs last."""
    last = [item for item in items if item.name == LAST]
    items[:] = [item for item in items if item.name != LAST] + last


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    summary = unserved_summary(config)
    if summary is not None:
        unserved, untoured = summary
        terminalreporter.section(f"Neon API routes the emulator does not serve ({len(unserved)})")
        terminalreporter.write_line(textwrap.fill(", ".join(unserved), width=110))
        if untoured:
            terminalreporter.write_line(
                f"served, but no answer in this run to validate: {', '.join(untoured)}"
            )


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
