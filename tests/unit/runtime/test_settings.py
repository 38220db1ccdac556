"""Settings from the environment: defaults, every problem reported at once, secrets never shown."""

from __future__ import annotations

import pytest

from neon_checkpoints.core.secrets import redact_dsn
from neon_checkpoints.settings import DEFAULT_NEON_API_URL, Settings, SettingsError

GOOD = {
    "NEON_API_KEY": "napi_supersecret",
    "META_DATABASE_URL": "postgresql://meta:hunter2@db.internal:5432/meta",
}


def test_minimal_environment_gets_defaults() -> None:
    settings = Settings.from_env(GOOD)
    assert settings.neon_api_url == DEFAULT_NEON_API_URL
    assert settings.neon_api_key == "napi_supersecret"
    assert settings.watch_namespaces == ()
    assert settings.log_level == "INFO"
    assert settings.crash_after is None
    assert (settings.resync, settings.keep_old_branches) == (30.0, None)


def test_everything_set() -> None:
    settings = Settings.from_env(
        {
            **GOOD,
            "NEON_API_URL": "http://127.0.0.1:4444/api/v2",
            "WATCH_NAMESPACES": "apps, tenants-a",
            "LOG_LEVEL": "debug",
            "NEON_OPERATION_TIMEOUT": "60",
            "NEON_OPERATION_POLL_INTERVAL": "1.5",
            "PROJECT_LOCK_WAIT": "0",
            "META_DATABASE_POOL_SIZE": "4",
            "NEON_CHECKPOINTS_CRASH_AFTER": "snapshot-accepted",
            "NEON_CHECKPOINTS_SCHEDULE_RESYNC": "1.5",
            "NEON_CHECKPOINTS_KEEP_OLD_BRANCHES": "2",
        }
    )
    assert (settings.resync, settings.keep_old_branches) == (1.5, 2)
    assert settings.neon_api_url == "http://127.0.0.1:4444/api/v2"
    assert settings.watch_namespaces == ("apps", "tenants-a")
    assert settings.log_level == "DEBUG"
    assert (settings.operation_timeout, settings.project_lock_wait, settings.meta_pool_size) == (60.0, 0.0, 4)
    assert settings.operation_poll_interval == 1.5
    assert settings.crash_after == "snapshot-accepted"


def test_star_means_all_namespaces() -> None:
    assert Settings.from_env({**GOOD, "WATCH_NAMESPACES": "*"}).watch_namespaces == ()


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {
                "NEON_API_URL": "console.neon.tech",
                "META_DATABASE_URL": "mysql://root:pw@db/meta",
                "WATCH_NAMESPACES": "Apps,ok",
                "LOG_LEVEL": "chatty",
                "NEON_OPERATION_TIMEOUT": "soon",
                "NEON_OPERATION_POLL_INTERVAL": "0",
                "META_DATABASE_POOL_SIZE": "1",
                "NEON_CHECKPOINTS_SCHEDULE_RESYNC": "soon",
                "NEON_CHECKPOINTS_KEEP_OLD_BRANCHES": "-1",
                "NEON_CHECKPOINTS_CRASH_AFTER": "somewhere",
            }
        )
    problems = caught.value.problems
    named = [p.split()[0] for p in problems]
    assert named == [
        "NEON_API_URL",
        "NEON_API_KEY",
        "META_DATABASE_URL",
        "WATCH_NAMESPACES",
        "LOG_LEVEL",
        "NEON_OPERATION_TIMEOUT",
        "NEON_OPERATION_POLL_INTERVAL",
        "META_DATABASE_POOL_SIZE",
        "NEON_CHECKPOINTS_SCHEDULE_RESYNC",
        "NEON_CHECKPOINTS_KEEP_OLD_BRANCHES",
        "NEON_CHECKPOINTS_CRASH_AFTER",
    ]
    assert "pw" not in str(caught.value)


def test_secrets_never_in_repr() -> None:
    text = repr(Settings.from_env(GOOD))
    assert "napi_supersecret" not in text
    assert "hunter2" not in text
    assert "meta:***@db.internal:5432/meta" in text


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://u:p@h:5/d", "postgresql://u:***@h:5/d"),
        ("postgresql://u@h/d", "postgresql://u@h/d"),
        ("host=h password=p", "<redacted>"),
    ],
)
def test_redact_dsn(dsn: str, shown: str) -> None:
    assert redact_dsn(dsn) == shown


def test_fleet_settings_defaults_and_overrides() -> None:
    """Issue 16: the request budget follows the URL (Neon's limits for Neon, none for the emulator), the
    branch-id cache's TTL, and kopf peering (a pod's priority from its name, so replicas never tie)."""
    neon = Settings.from_env(GOOD)
    assert (neon.api_budget.per_minute, neon.api_budget.per_route_per_second) == (700, 40)
    assert neon.branch_cache_ttl == 300.0 and neon.peering_lifetime == 60
    emulator = Settings.from_env({**GOOD, "NEON_API_URL": "http://127.0.0.1:4444/api/v2"})
    assert not emulator.api_budget.enabled
    a = Settings.from_env({**GOOD, "POD_NAME": "neon-checkpoints-7f9c-abcde"})
    b = Settings.from_env({**GOOD, "POD_NAME": "neon-checkpoints-7f9c-fghij"})
    assert a.peering_priority != b.peering_priority
    set_ = Settings.from_env(
        {
            **GOOD,
            "NEON_API_BUDGET_PER_MINUTE": "300",
            "NEON_API_BUDGET_PER_ROUTE_PER_SECOND": "0",
            "NEON_BRANCH_CACHE_TTL": "0",
            "PEERING_PRIORITY": "100",
            "PEERING_LIFETIME": "5",
        }
    )
    assert (set_.api_budget.per_minute, set_.api_budget.per_route_per_second) == (300, 0)
    assert (set_.branch_cache_ttl, set_.peering_priority, set_.peering_lifetime) == (0.0, 100, 5)
    with pytest.raises(SettingsError) as bad:
        Settings.from_env({**GOOD, "NEON_API_BUDGET_PER_MINUTE": "1.5", "PEERING_PRIORITY": "high"})
    assert len(bad.value.problems) == 2


def test_concurrent_reconciles_are_bounded_by_default() -> None:
    """Issue 16 item 5: a burst of resources is worked on 50 at a time unless told otherwise (0: no bound)."""
    assert Settings.from_env(GOOD).max_concurrent_reconciles == 50
    assert Settings.from_env({**GOOD, "MAX_CONCURRENT_RECONCILES": "0"}).max_concurrent_reconciles == 0
    with pytest.raises(SettingsError) as bad:
        Settings.from_env({**GOOD, "MAX_CONCURRENT_RECONCILES": "2.5"})
    assert bad.value.problems == ("MAX_CONCURRENT_RECONCILES must be a whole number, got 2.5",)
