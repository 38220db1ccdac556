"""Connection settings shared by both clients."""

from __future__ import annotations

from importlib import metadata


def normalise_base_url(base_url: str) -> str:
    """`https://console.neon.tech/api/v2` (no trailing slash); refuses URLs carrying credentials."""
    base = base_url.rstrip("/")
    if "@" in base.split("//", 1)[-1].split("/", 1)[0]:
        raise ValueError("base_url must not contain credentials; pass the API key separately")
    return base


def client_headers(api_key: str) -> dict[str, str]:
    if not api_key:
        raise ValueError("api_key is empty")
    return {
        "Authorization": f"Bearer {api_key}",
        "Accept": "application/json",
        "User-Agent": f"neon-checkpoints/{_version()}",
    }


def _version() -> str:
    try:
        return metadata.version("neon-checkpoints")
    except metadata.PackageNotFoundError:
        return "dev"
