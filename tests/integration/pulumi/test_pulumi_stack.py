"""`pulumi up/preview/refresh/destroy` of the real pulumi_stack/ against the Neon emulator over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devenv.emulator import EmulatorServer
from devenv.processes import free_port
from neon_api import NeonClient
from tests.support.pulumi import PulumiWorkspace, PulumiWorkspaceFactory, copy_stack_project

pytestmark = [pytest.mark.pulumi, pytest.mark.emulator]


@pytest.fixture
def neon(emulator: EmulatorServer) -> Iterator[NeonClient]:
    with NeonClient(emulator.url, emulator.api_key) as client:
        yield client


@pytest.fixture
def stack(
    tmp_path: Path, pulumi_workspace: PulumiWorkspaceFactory, emulator: EmulatorServer, neon: NeonClient
) -> Iterator[PulumiWorkspace]:
    """A fresh stack of the real project, configured for the emulator; destroyed afterwards if a test left
    resources behind."""
    ws = pulumi_workspace(copy_stack_project(tmp_path))
    ws.new_stack("test")
    ws.set_config("neon:apiUrl", emulator.url)
    ws.set_config("neon:apiKey", emulator.api_key, secret=True)
    ws.set_config("neon-checkpoints:appName", f"app-{uuid.uuid4().hex[:8]}")
    try:
        yield ws
    finally:
        if ws.resources():
            ws.destroy()


def project_ids(neon: NeonClient) -> set[str]:
    return {p.id for p in neon.list_projects()}


def scalar(url: str, query: str) -> object:
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute(query).fetchone()
        assert row is not None
        return row[0]


@pytest.mark.slow
def test_up_provisions_both_databases_preview_is_clean_drift_is_repaired_destroy_cleans_up(
    stack: PulumiWorkspace, neon: NeonClient, emulator: EmulatorServer
) -> None:
    before = project_ids(neon)

    up = stack.up()
    assert emulator.api_key not in up.stdout + up.stderr
    out = stack.outputs(show_secrets=True)
    assert stack.outputs()["app_database_url"] == "[secret]"
    assert stack.outputs()["meta_database_url"] == "[secret]"
    app_id, meta_id = out["app_project_id"], out["meta_project_id"]
    assert out["production_branch"] == "production"
    assert project_ids(neon) - before == {app_id, meta_id}

    # Both databases accept connections with the URLs from the outputs.
    assert scalar(out["app_database_url"], "select current_database()") == "app"
    assert scalar(out["app_database_url"], "select current_user") == "app_owner"
    assert scalar(out["meta_database_url"], "select current_database()") == "checkpoints_meta"
    # The meta database is in its own project, not on the app's production branch.
    production = neon.find_branch(app_id, "production")
    assert production is not None and production.default
    assert "checkpoints_meta" not in {d.name for d in neon.list_databases(app_id, production.id)}
    meta_branch = neon.find_branch(meta_id, "main")
    assert meta_branch is not None
    assert "checkpoints_meta" in {d.name for d in neon.list_databases(meta_id, meta_branch.id)}

    assert stack.preview_changes() == {"same": 16}

    # Drift: the app database disappears behind Pulumi's back.
    neon.wait_for_operations(app_id, neon.delete_database(app_id, production.id, "app"))
    refresh = stack.refresh()
    assert "app-database" in refresh.stdout and "deleted" in refresh.stdout
    assert stack.preview_changes().get("create") == 2  # the database and its URL
    stack.up()
    assert "app" in {d.name for d in neon.list_databases(app_id, production.id)}
    assert scalar(out["app_database_url"], "select current_database()") == "app"
    assert stack.preview_changes() == {"same": 16}

    # Renaming production through config renames the branch in place: nothing is replaced, data stays.
    with psycopg.connect(out["app_database_url"], autocommit=True) as conn:
        conn.execute("create table kept (x int)")
    stack.set_config("neon-checkpoints:productionBranch", "main-line")
    planned = stack.preview_changes()
    assert set(planned) == {"same", "update"}, planned
    stack.up()
    assert neon.find_branch(app_id, "production") is None
    renamed = neon.find_branch(app_id, "main-line")
    assert renamed is not None and renamed.id == production.id
    assert stack.outputs()["production_branch"] == "main-line"
    assert scalar(out["app_database_url"], "select count(*) from kept") == 0
    assert stack.preview_changes() == {"same": 16}

    stack.destroy()
    assert stack.resources() == []
    assert project_ids(neon) == before


@pytest.mark.slow
def test_a_finalized_restore_of_production_leaves_the_stack_unchanged(
    stack: PulumiWorkspace, neon: NeonClient
) -> None:
    stack.up()
    out = stack.outputs(show_secrets=True)
    app_id, app_url = out["app_project_id"], out["app_database_url"]
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("create table notes (body text)")
        conn.execute("insert into notes values ('v1')")

    production = neon.find_branch(app_id, "production")
    assert production is not None
    snapshot = neon.create_snapshot(app_id, production.id, name="before-v2")
    neon.wait_for_operations(app_id, snapshot.operations)
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("insert into notes values ('v2')")
    restored = neon.restore_snapshot(app_id, snapshot.value.id, target_branch_id=production.id, finalize=True)
    neon.wait_for_operations(app_id, restored.operations)
    after = neon.find_branch(app_id, "production")
    assert after is not None and after.id != production.id, "the emulator must give production a new id"

    stack.run("preview", "--expect-no-changes", "--non-interactive")
    up = stack.run("up", "--yes", "--skip-preview", "--non-interactive", "--expect-no-changes")
    assert "16 unchanged" in up.stdout
    refresh = stack.refresh()
    assert "16 unchanged" in refresh.stdout
    assert stack.preview_changes() == {"same": 16}

    # Production was neither recreated nor clobbered: the restored data is still there, same URL.
    assert neon.find_branch(app_id, "production") == after
    assert scalar(app_url, "select string_agg(body, ',') from notes") == "v1"

    stack.destroy()
    assert app_id not in project_ids(neon)


@pytest.mark.parametrize(
    ("config", "named"),
    [
        pytest.param({"neon:apiUrl": "not a url"}, "neon:apiUrl", id="malformed-url"),
        pytest.param(
            {"neon-checkpoints:databaseName": "my app"}, "neon-checkpoints:databaseName", id="bad-name"
        ),
        pytest.param({"neon-checkpoints:appName": "-x-"}, "neon-checkpoints:appName", id="bad-app-name"),
    ],
)
def test_bad_config_fails_before_any_resource_naming_the_key(
    tmp_path: Path, pulumi_workspace: PulumiWorkspaceFactory, config: dict[str, str], named: str
) -> None:
    ws = pulumi_workspace(copy_stack_project(tmp_path))
    ws.new_stack("bad")
    ws.set_config("neon:apiKey", "never-printed-key-123", secret=True)
    for key, value in config.items():
        ws.set_config(key, value)
    result = ws.run("up", "--yes", "--skip-preview", "--non-interactive", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "invalid stack configuration" in output and named in output
    assert "never-printed-key-123" not in output
    assert "Traceback" not in output
    assert ws.resources() == [] or all(r["type"] == "pulumi:pulumi:Stack" for r in ws.resources())


def test_a_missing_api_key_is_named(tmp_path: Path, pulumi_workspace: PulumiWorkspaceFactory) -> None:
    ws = pulumi_workspace(copy_stack_project(tmp_path))
    ws.new_stack("nokey")
    result = ws.run("preview", "--non-interactive", check=False)
    assert result.returncode != 0
    assert "neon:apiKey is not set" in result.stdout + result.stderr


def test_an_unreachable_api_url_is_named_without_printing_the_key(
    tmp_path: Path, pulumi_workspace: PulumiWorkspaceFactory
) -> None:
    ws = pulumi_workspace(copy_stack_project(tmp_path))
    ws.new_stack("unreachable")
    url = f"http://127.0.0.1:{free_port()}/api/v2"  # nothing listens there
    ws.set_config("neon:apiUrl", url)
    ws.set_config("neon:apiKey", "never-printed-key-456", secret=True)
    result = ws.run("up", "--yes", "--skip-preview", "--non-interactive", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"cannot reach the Neon API at {url} (config neon:apiUrl)" in output
    assert "never-printed-key-456" not in output
    assert "Traceback" not in output


def test_a_rejected_api_key_is_named_without_printing_it(
    tmp_path: Path, pulumi_workspace: PulumiWorkspaceFactory, emulator: EmulatorServer, neon: NeonClient
) -> None:
    before = project_ids(neon)
    ws = pulumi_workspace(copy_stack_project(tmp_path))
    ws.new_stack("badkey")
    ws.set_config("neon:apiUrl", emulator.url)
    ws.set_config("neon:apiKey", "wrong-key-789", secret=True)
    result = ws.run("up", "--yes", "--skip-preview", "--non-interactive", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "rejected the API key (config neon:apiKey)" in output
    assert "wrong-key-789" not in output
    assert project_ids(neon) == before
