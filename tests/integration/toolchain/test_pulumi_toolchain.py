"""The Pulumi CLI and the project's own Python language host, end to end on a tiny dynamic-provider stack."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.support.pulumi import PulumiWorkspace, PulumiWorkspaceFactory, project_virtualenv

pytestmark = pytest.mark.pulumi

# A dynamic provider that manages one file: its effects are visible on disk, so the test can tell that
# create and delete really ran (and ran once).
PROGRAM = textwrap.dedent(
    """
    from pathlib import Path

    import pulumi
    from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider


    class FileProvider(ResourceProvider):
        def create(self, props):
            path = Path(props["path"])
            path.write_text(props["content"])
            with Path(props["path"] + ".log").open("a") as log:
                log.write("create\\n")
            return CreateResult(id_=str(path), outs=dict(props))

        def diff(self, _id, olds, news):
            changed = [k for k in ("path", "content") if olds.get(k) != news.get(k)]
            return DiffResult(changes=bool(changed), replaces=changed)

        def delete(self, _id, props):
            Path(props["path"]).unlink(missing_ok=True)
            with Path(props["path"] + ".log").open("a") as log:
                log.write("delete\\n")


    class File(Resource):
        def __init__(self, name, path, content, opts=None):
            super().__init__(FileProvider(), name, {"path": path, "content": content}, opts)


    config = pulumi.Config()
    target = config.require("target")
    greeting = File("greeting", target, config.require("greeting"))
    pulumi.export("path", greeting.path)
    pulumi.export("token", config.require_secret("token"))
    if config.get_bool("fail"):
        raise ValueError("boom from the program")
    """
)


def make_project(root: Path) -> Path:
    project = root / "project"
    project.mkdir()
    (project / "__main__.py").write_text(PROGRAM)
    (project / "Pulumi.yaml").write_text(
        "name: toolchain-check\n"
        "runtime:\n"
        "  name: python\n"
        "  options:\n"
        f"    virtualenv: {project_virtualenv()}\n"
    )
    return project


@pytest.fixture
def workspace(tmp_path: Path, pulumi_workspace: PulumiWorkspaceFactory) -> PulumiWorkspace:
    ws = pulumi_workspace(make_project(tmp_path))
    ws.new_stack("dev")
    ws.set_config("target", str(tmp_path / "greeting.txt"))
    ws.set_config("greeting", "hello from config")
    ws.set_config("token", "s3cr3t-token-value", secret=True)
    return ws


def test_up_preview_destroy_run_the_program_through_our_language_host(workspace: PulumiWorkspace) -> None:
    target = Path(workspace.project_dir.parent / "greeting.txt")
    log = Path(f"{target}.log")

    up = workspace.up()
    assert target.read_text() == "hello from config"
    assert log.read_text().splitlines() == ["create"]
    outputs = workspace.outputs()
    assert outputs["path"] == str(target)
    assert outputs["token"] == "[secret]", "a secret config value must reach the program as a secret"
    assert workspace.outputs(show_secrets=True)["token"] == "s3cr3t-token-value"
    assert "s3cr3t-token-value" not in up.stdout + up.stderr

    summary = json.loads(workspace.run("preview", "--json", "--non-interactive").stdout)["changeSummary"]
    assert summary == {"same": 2}, summary  # the stack and the file
    workspace.run("preview", "--expect-no-changes", "--non-interactive")

    workspace.destroy()
    assert not target.exists()
    assert log.read_text().splitlines() == ["create", "delete"]
    assert workspace.resources() == []

    # Only dynamic providers: nothing was downloaded or installed into the isolated PULUMI_HOME.
    plugins = workspace.home / "plugins"
    assert not plugins.exists() or not any(plugins.iterdir())


def test_a_failing_program_fails_the_update_with_its_own_message(workspace: PulumiWorkspace) -> None:
    workspace.set_config("fail", "true")
    result = workspace.run("up", "--yes", "--skip-preview", "--non-interactive", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "boom from the program" in output
    # Exit code 32 ("already reported") is a bail: no second, generic failure line.
    assert "non-zero exit code" not in output
