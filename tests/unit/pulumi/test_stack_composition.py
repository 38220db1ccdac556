"""The environment's composition under `pulumi.runtime.set_mocks`: which resources, wired to which project,
and which outputs are secret. No engine, no Neon: the mocks record every registration."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pulumi
import pytest
from pulumi_stack.neon_stack.environment import CheckpointEnvironment
from pulumi_stack.neon_stack.settings import StackSettings, settings_from

DYNAMIC = "pulumi-python:dynamic/neon:"
# How the Pulumi wire format marks a secret value.
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270"


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers like the providers would (ids, project ids, passwords, URLs) and records each resource."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        outs = {k: v for k, v in args.inputs.items() if k != "__provider"}
        kind = args.typ.removeprefix(DYNAMIC)
        if kind == "Project":
            outs["project_id"] = f"pid-{args.name}"
        elif kind == "Endpoint":
            outs["endpoint_id"] = f"ep-{args.name}"
        elif kind == "Role":
            outs["password"] = f"pw-{args.name}"
        elif kind == "ConnectionUri":
            outs["uri"] = f"postgresql://{outs['role_name']}:pw@{outs['endpoint_id']}/{outs['database_name']}"
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None

    def of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {r.name: r.inputs for r in self.resources if r.typ == DYNAMIC + kind}


@pytest.fixture
def mocks() -> Iterator[RecordingMocks]:
    recorder = RecordingMocks()
    pulumi.runtime.set_mocks(recorder, project="neon-checkpoints", stack="unit", preview=False)
    yield recorder


def settings(**changes: Any) -> StackSettings:
    return replace(settings_from({"neon-checkpoints:appName": "shop"}, has_api_key=True), **changes)


def build(**changes: Any) -> CheckpointEnvironment:
    return CheckpointEnvironment(
        "checkpoints", settings=settings(**changes), api_key=pulumi.Output.secret("k")
    )


def all_urls(env: CheckpointEnvironment) -> pulumi.Output[list[Any]]:
    """Resolves once both sites are fully registered."""
    return pulumi.Output.all(env.app.database_url, env.meta.database_url)


@pulumi.runtime.test
def test_two_sites_of_six_neon_resources_each(mocks: RecordingMocks) -> None:
    env = build()

    def check(_: Any) -> None:
        for kind in ("Project", "Branch", "Endpoint", "Role", "Database"):
            assert sorted(mocks.of(kind)) == [f"app-{kind.lower()}", f"meta-{kind.lower()}"]
        assert sorted(mocks.of("ConnectionUri")) == ["app-url", "meta-url"]
        projects = mocks.of("Project")
        assert projects["app-project"]["name"] == "shop"
        assert projects["app-project"]["root_branch_name"] == "production"
        assert projects["meta-project"]["name"] == "shop-checkpoints-meta"
        assert mocks.of("Branch")["app-branch"]["name"] == "production"
        app_db = mocks.of("Database")["app-database"]
        assert (app_db["name"], app_db["owner_name"], app_db["branch_name"]) == (
            "app",
            "app_owner",
            "production",
        )
        assert not any("OperatorSecret" in r.typ for r in mocks.resources)  # no kubeconfig configured

    return all_urls(env).apply(check)  # type: ignore[no-any-return]


@pulumi.runtime.test
def test_the_meta_database_lives_in_its_own_project_not_on_the_app_production_branch(
    mocks: RecordingMocks,
) -> None:
    env = build()

    def check(_: Any) -> None:
        for kind in ("Branch", "Endpoint", "Role", "Database", "ConnectionUri"):
            for name, inputs in mocks.of(kind).items():
                site = name.split("-", 1)[0]
                assert inputs["project_id"] == f"pid-{site}-project", (kind, name)
        meta_db = mocks.of("Database")["meta-database"]
        assert meta_db["project_id"] != mocks.of("Database")["app-database"]["project_id"]
        assert meta_db["name"] == "checkpoints_meta"
        assert meta_db["owner_name"] == "checkpoints_operator"
        # Everything on a branch names it; no resource is given a branch id.
        assert all("branch_id" not in r.inputs for r in mocks.resources)

    return all_urls(env).apply(check)  # type: ignore[no-any-return]


@pulumi.runtime.test
def test_database_urls_are_secret_outputs(mocks: RecordingMocks) -> None:
    env = build()
    secrets = pulumi.Output.all(
        pulumi.Output.from_input(env.app.database_url.is_secret()),
        pulumi.Output.from_input(env.meta.database_url.is_secret()),
        pulumi.Output.from_input(env.app.project_id.is_secret()),
        env.app.database_url,
    )

    def check(values: list[Any]) -> None:
        app_secret, meta_secret, id_secret, app_url = values
        assert app_secret and meta_secret
        assert not id_secret
        assert app_url == "postgresql://app_owner:pw@ep-app-endpoint/app"

    return secrets.apply(check)  # type: ignore[no-any-return]


@pulumi.runtime.test
def test_a_kubeconfig_adds_the_operator_secret(mocks: RecordingMocks) -> None:
    env = build(kubeconfig="/tmp/kubeconfig", operator_namespace="ops")

    def check(_: Any) -> None:
        secrets = [r for r in mocks.resources if r.typ.endswith("OperatorSecret")]
        assert len(secrets) == 1
        inputs = secrets[0].inputs
        assert (inputs["namespace"], inputs["name"]) == ("ops", "neon-checkpoints")
        # It holds secrets, so the whole map reaches the engine as a secret value.
        assert inputs["string_data"][SECRET_SIG] == SECRET_SIG_VALUE
        data = inputs["string_data"]["value"]
        assert sorted(data) == ["META_DATABASE_URL", "NEON_API_KEY", "NEON_API_URL"]
        assert data["NEON_API_KEY"] == "k"
        meta_url = "postgresql://checkpoints_operator:pw@ep-meta-endpoint/checkpoints_meta"
        assert data["META_DATABASE_URL"] == meta_url

    assert env.operator_secret is not None
    return env.operator_secret.urn.apply(check)  # type: ignore[no-any-return]
