"""The stack's configuration: a frozen object built by a pure function that reports every problem at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import pulumi

PROJECT = "neon-checkpoints"
DEFAULT_API_URL = "http://127.0.0.1:4444/api/v2"  # `neon-emulator serve` with its default port
META_BRANCH = "main"

_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
_SQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_BRANCH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,255}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")

# Every config key the stack reads, with its default (None: no default).
KEYS: dict[str, str | None] = {
    "neon:apiUrl": DEFAULT_API_URL,
    "neon:apiKey": None,
    f"{PROJECT}:appName": "agent-app",
    f"{PROJECT}:productionBranch": "production",
    f"{PROJECT}:databaseName": "app",
    f"{PROJECT}:roleName": "app_owner",
    f"{PROJECT}:metaProjectName": None,  # default: "<appName>-checkpoints-meta"
    f"{PROJECT}:metaDatabaseName": "checkpoints_meta",
    f"{PROJECT}:metaRoleName": "checkpoints_operator",
    f"{PROJECT}:regionId": None,
    f"{PROJECT}:pgVersion": None,
    f"{PROJECT}:kubeconfig": None,
    f"{PROJECT}:operatorNamespace": "neon-checkpoints",
    f"{PROJECT}:operatorSecretName": "neon-checkpoints",  # the Helm chart's existingSecret.name default
}


class StackConfigError(pulumi.RunError):
    """The stack's config cannot describe an environment; the message names every bad key (never a value
    that could be secret)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class StackSettings:
    api_url: str
    app_name: str
    production_branch: str
    database_name: str
    role_name: str
    meta_project_name: str
    meta_database_name: str
    meta_role_name: str
    region_id: str | None
    pg_version: int | None
    kubeconfig: str | None
    operator_namespace: str
    operator_secret_name: str


def settings_from(values: Mapping[str, str | None], *, has_api_key: bool) -> StackSettings:
    """Validate raw config values (key -> string or None when unset). The API key itself is not passed in:
    it stays a secret Output; only whether it is set matters here."""
    problems: list[str] = []

    def get(key: str) -> str | None:
        raw = values.get(key)
        value = raw.strip() if raw is not None else None
        return value or KEYS[key]

    def named(key: str, pattern: re.Pattern[str], rule: str) -> str:
        value = get(key) or ""
        if not pattern.match(value):
            problems.append(f"{key} must be {rule}, got {value!r}")
        return value

    api_url = get("neon:apiUrl") or ""
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"neon:apiUrl must be an http(s) URL such as {DEFAULT_API_URL}, got {api_url!r}")
    if not has_api_key:
        problems.append("neon:apiKey is not set: `pulumi config set --secret neon:apiKey <key>`")

    sql = "1-63 letters, digits or _ (not starting with a digit)"
    app_name = named(f"{PROJECT}:appName", _PROJECT_NAME, "1-64 letters, digits, spaces, '.', '_' or '-'")
    branch = named(f"{PROJECT}:productionBranch", _BRANCH_NAME, "a branch name (letters, digits, _ . / -)")
    database = named(f"{PROJECT}:databaseName", _SQL_NAME, sql)
    role = named(f"{PROJECT}:roleName", _SQL_NAME, sql)
    meta_project = get(f"{PROJECT}:metaProjectName") or f"{app_name}-checkpoints-meta"
    if not _PROJECT_NAME.match(meta_project):
        problems.append(f"{PROJECT}:metaProjectName must be 1-64 characters, got {meta_project!r}")
    meta_database = named(f"{PROJECT}:metaDatabaseName", _SQL_NAME, sql)
    meta_role = named(f"{PROJECT}:metaRoleName", _SQL_NAME, sql)
    if meta_project == app_name:
        problems.append(
            f"{PROJECT}:metaProjectName must differ from {PROJECT}:appName: the meta database may not live "
            "in the app's project (a restore would roll the checkpoint timeline back)"
        )

    pg_version: int | None = None
    raw_pg = get(f"{PROJECT}:pgVersion")
    if raw_pg is not None:
        if raw_pg.isdigit() and 14 <= int(raw_pg) <= 18:
            pg_version = int(raw_pg)
        else:
            problems.append(f"{PROJECT}:pgVersion must be a Postgres major version 14-18, got {raw_pg!r}")

    namespace = named(f"{PROJECT}:operatorNamespace", _DNS_LABEL, "a Kubernetes namespace name")
    secret_name = named(f"{PROJECT}:operatorSecretName", _DNS_SUBDOMAIN, "a Kubernetes Secret name")

    if problems:
        raise StackConfigError(problems)
    return StackSettings(
        api_url=api_url.rstrip("/"),
        app_name=app_name,
        production_branch=branch,
        database_name=database,
        role_name=role,
        meta_project_name=meta_project,
        meta_database_name=meta_database,
        meta_role_name=meta_role,
        region_id=get(f"{PROJECT}:regionId"),
        pg_version=pg_version,
        kubeconfig=get(f"{PROJECT}:kubeconfig"),
        operator_namespace=namespace,
        operator_secret_name=secret_name,
    )


def read_config() -> tuple[StackSettings, pulumi.Output[str]]:
    """The I/O shell: the stack's Pulumi config -> (settings, API key as a secret Output)."""
    values: dict[str, str | None] = {}
    for key in KEYS:
        if key == "neon:apiKey":
            continue
        namespace, _, name = key.partition(":")
        values[key] = pulumi.Config(namespace).get(name)
    api_key = pulumi.Config("neon").get_secret("apiKey")
    settings = settings_from(values, has_api_key=api_key is not None)
    assert api_key is not None  # settings_from raised otherwise
    return settings, api_key
