"""The secrets-at-rest scanner the demo's e2e uses (tests/support/secret_files.py): what it reports."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.support.secret_files import find_leaks, readme_patterns, secret_values

URL = "postgresql://app_owner:npg_s3cret@127.0.0.1:5432/app?sslmode=require"


def write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def test_a_secret_outside_a_listed_0600_file_is_reported(tmp_path: Path) -> None:
    known = secret_values(api_key="napi_abc123", app_url=URL)
    write(tmp_path / "state.json", f"key napi_abc123 {URL}", 0o600)
    write(tmp_path / "kube/etcd/member/db", "napi_abc123", 0o600)
    write(tmp_path / "operator.log", "meta DB postgresql://app_owner:***@127.0.0.1/app", 0o644)
    write(tmp_path / "pulumi.log", "password npg_s3cret", 0o644)
    write(tmp_path / "secret.yaml", "apiKey: " + base64.b64encode(b"napi_abc123").decode(), 0o640)
    write(tmp_path / "tls/ca.key", "-----BEGIN EC PRIVATE KEY-----\n...", 0o644)
    write(tmp_path / "extra-0600", "nothing", 0o600)

    problems = find_leaks(tmp_path, known, ["state.json", "kube/etcd/*"])

    assert sorted(problems) == [
        "extra-0600: mode 0600 but not in README.md's '### Files with secrets' list",
        "pulumi.log: mode 0644 holds app_url's password",
        "secret.yaml: mode 0640 holds api_key (base64)",
        "tls/ca.key: mode 0644 holds a private key",
    ]
    assert not any("napi_abc123" in p or "npg_s3cret" in p for p in problems), "labels, never values"


def test_the_readme_lists_the_demo_files_with_secrets() -> None:
    listed = readme_patterns(".demo/")
    for path in ("pulumi-passphrase", "emulator/state.json", "kube/etcd/*", "meta-database-url"):
        assert path in listed
