"""Stack configuration: defaults, and bad values reported together, each naming its config key."""

from __future__ import annotations

import pytest
from pulumi_stack.neon_stack.settings import DEFAULT_API_URL, StackConfigError, settings_from


def test_defaults_point_at_the_local_emulator_with_a_production_branch() -> None:
    settings = settings_from({}, has_api_key=True)
    assert settings.api_url == DEFAULT_API_URL
    assert settings.production_branch == "production"
    assert settings.meta_project_name == "agent-app-checkpoints-meta"
    assert settings.meta_project_name != settings.app_name
    assert settings.kubeconfig is None


def test_values_are_trimmed_and_the_url_loses_its_trailing_slash() -> None:
    settings = settings_from(
        {"neon:apiUrl": " https://console.neon.tech/api/v2/ ", "neon-checkpoints:appName": "shop"},
        has_api_key=True,
    )
    assert settings.api_url == "https://console.neon.tech/api/v2"
    assert settings.meta_project_name == "shop-checkpoints-meta"


@pytest.mark.parametrize(
    ("values", "has_key", "named_key"),
    [
        pytest.param({}, False, "neon:apiKey", id="missing-api-key"),
        pytest.param({"neon:apiUrl": "console.neon.tech"}, True, "neon:apiUrl", id="url-without-scheme"),
        pytest.param({"neon:apiUrl": "ftp://x/api/v2"}, True, "neon:apiUrl", id="url-wrong-scheme"),
        pytest.param(
            {"neon-checkpoints:databaseName": "my db"}, True, "neon-checkpoints:databaseName", id="db"
        ),
        pytest.param({"neon-checkpoints:roleName": "1role"}, True, "neon-checkpoints:roleName", id="role"),
        pytest.param(
            {"neon-checkpoints:productionBranch": "main (old)"},
            True,
            "neon-checkpoints:productionBranch",
            id="branch-with-space",
        ),
        pytest.param(
            {"neon-checkpoints:pgVersion": "9"}, True, "neon-checkpoints:pgVersion", id="pg-version"
        ),
        pytest.param(
            {"neon-checkpoints:appName": "x", "neon-checkpoints:metaProjectName": "x"},
            True,
            "neon-checkpoints:metaProjectName",
            id="meta-in-app-project",
        ),
        pytest.param(
            {"neon-checkpoints:operatorNamespace": "Bad_NS"},
            True,
            "neon-checkpoints:operatorNamespace",
            id="namespace",
        ),
    ],
)
def test_a_bad_value_names_its_key(values: dict[str, str | None], has_key: bool, named_key: str) -> None:
    with pytest.raises(StackConfigError) as caught:
        settings_from(values, has_api_key=has_key)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(named_key)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(StackConfigError) as caught:
        settings_from({"neon:apiUrl": "nope", "neon-checkpoints:roleName": "-"}, has_api_key=False)
    keys = sorted(p.split(" ", 1)[0] for p in caught.value.problems)
    assert keys == ["neon-checkpoints:roleName", "neon:apiKey", "neon:apiUrl"]
