"""The dynamic providers' `create` is transactional: when Neon's operations fail, what the call set up is
removed again (nothing left in Neon that the stack does not manage) and the error names the cause."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pulumi_stack.neon_stack.access import ProviderError
from pulumi_stack.neon_stack.database import DatabaseProvider
from pulumi_stack.neon_stack.project import ProjectProvider

from devenv.emulator import EmulatorServer
from neon_api import NeonClient

pytestmark = pytest.mark.emulator

WAIT = 120.0


@pytest.fixture
def neon(emulator: EmulatorServer) -> Iterator[NeonClient]:
    with NeonClient(emulator.url, emulator.api_key) as client:
        yield client


@pytest.fixture
def faults(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with emulator.admin() as admin:
        yield admin
        admin.post("/reset-faults").raise_for_status()


def access(emulator: EmulatorServer) -> dict[str, Any]:
    return {"api_url": emulator.url, "api_key": emulator.api_key}


def test_a_project_whose_operations_fail_is_deleted_again(
    emulator: EmulatorServer, neon: NeonClient, faults: httpx.Client
) -> None:
    name = f"rollback-{uuid.uuid4().hex[:8]}"
    faults.put("/faults", json={"fail_operations": {"create_timeline": 1.0}}).raise_for_status()
    props = {**access(emulator), "name": name, "root_branch_name": "production"}
    with pytest.raises(ProviderError) as caught:
        ProjectProvider().create(props)
    assert f"creating Neon project {name!r}" in str(caught.value) and "create_timeline" in str(caught.value)
    assert name not in {p.name for p in neon.list_projects()}


def test_a_database_whose_operation_fails_is_dropped_again_and_the_cause_is_reported(
    emulator: EmulatorServer, neon: NeonClient, faults: httpx.Client
) -> None:
    created = neon.create_project(name=f"rollback-{uuid.uuid4().hex[:8]}", branch_name="production")
    project_id = created.project.id
    neon.wait_for_operations(project_id, created.operations, timeout=WAIT)
    owner = created.roles[0].name if created.roles else "neondb_owner"
    faults.put("/faults", json={"fail_operations": {"apply_config": 1.0}}).raise_for_status()
    props = {
        **access(emulator),
        "project_id": project_id,
        "branch_name": "production",
        "name": "orders",
        "owner_name": owner,
    }
    with pytest.raises(ProviderError) as caught:
        DatabaseProvider().create(props)
    assert "creating database 'orders'" in str(caught.value) and "apply_config" in str(caught.value)
    faults.post("/reset-faults").raise_for_status()
    branch = neon.find_branch(project_id, "production")
    assert branch is not None
    assert "orders" not in {d.name for d in neon.list_databases(project_id, branch.id)}
    neon.delete_project(project_id)
