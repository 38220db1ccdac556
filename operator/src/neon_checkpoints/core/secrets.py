"""Where a key comes from, and how a secret-bearing URL is shown (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class SecretRef:
    """A key of a Secret in the resource's namespace (`credentialsSecretRef`; the CRDs' default key)."""

    name: str
    key: str = "apiKey"


def redact_dsn(dsn: str) -> str:
    """A database URL without its password (for logs and reprs)."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn if "password" not in dsn else "<redacted>"
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def secret_ref(spec: Mapping[str, Any]) -> SecretRef | None:
    """A resource spec's `credentialsSecretRef`, if it has one."""
    ref = spec.get("credentialsSecretRef")
    if not isinstance(ref, Mapping) or not ref.get("name"):
        return None
    return SecretRef(str(ref["name"]), str(ref.get("key") or SecretRef.key))
