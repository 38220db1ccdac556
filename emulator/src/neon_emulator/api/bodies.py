"""Request parsing: JSON bodies and query parameters into typed values, 400 naming the field otherwise."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from neon_emulator.model.core import UNSET
from neon_emulator.model.endpoints import EndpointSpec
from neon_emulator.model.errors import bad_request


def parse_json(text: str, *, required: bool = False) -> dict[str, Any]:
    if not text.strip():
        if required:
            raise bad_request("request body: a JSON object is required")
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad_request(
            f"request body: malformed JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(value, dict):
        raise bad_request("request body: must be a JSON object")
    return value


def obj(raw: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        if required:
            raise bad_request(f"{where}: required")
        return {}
    if not isinstance(value, dict):
        raise bad_request(f"{where}: must be an object")
    return value


def req_list(raw: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = raw.get(key)
    if not isinstance(value, list):
        raise bad_request(f"{where}: required, a list")
    return value


def opt_obj(raw: Mapping[str, Any], key: str, where: str) -> dict[str, Any] | None:
    """None when absent or null, else the object."""
    value = raw.get(key)
    if value is not None and not isinstance(value, dict):
        raise bad_request(f"{where}: must be an object")
    return value


def opt_str(raw: Mapping[str, Any], key: str, where: str, *, max_len: int = 256) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{where}: must be a string")
    if len(value) > max_len:
        raise bad_request(f"{where}: must be at most {max_len} characters")
    return value


def req_str(raw: Mapping[str, Any], key: str, where: str, *, max_len: int = 256) -> str:
    value = opt_str(raw, key, where, max_len=max_len)
    if not value:
        raise bad_request(f"{where}: required")
    return value


def opt_bool(raw: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise bad_request(f"{where}: must be a boolean")
    return value


def opt_int(raw: Mapping[str, Any], key: str, where: str, lo: int, hi: int) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise bad_request(f"{where}: must be an integer between {lo} and {hi}")
    return value


def opt_number(raw: Mapping[str, Any], key: str, where: str, lo: float, hi: float) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise bad_request(f"{where}: must be a number between {lo} and {hi}")
    return float(value)


def nullable_str(raw: Mapping[str, Any], key: str, where: str) -> Any:
    """UNSET when absent, None for an explicit null (clears the field), else the string."""
    if key not in raw:
        return UNSET
    value = raw[key]
    if value is not None and not isinstance(value, str):
        raise bad_request(f"{where}: must be a string or null")
    return value


def query_int(query: Mapping[str, str], key: str, lo: int, hi: int, default: int | None) -> int | None:
    text = query.get(key)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise bad_request(f"{key}: must be an integer") from None
    if not lo <= value <= hi:
        raise bad_request(f"{key}: must be between {lo} and {hi}")
    return value


def query_choice(query: Mapping[str, str], key: str, choices: tuple[str, ...], default: str) -> str:
    value = query.get(key) or default
    if value not in choices:
        raise bad_request(f"{key}: must be one of {', '.join(choices)}")
    return value


def query_bool(query: Mapping[str, str], key: str) -> bool:
    value = query.get(key, "false").lower()
    if value not in ("true", "false", "1", "0", ""):
        raise bad_request(f"{key}: must be true or false")
    return value in ("true", "1")


def endpoint_spec(raw: Any, where: str) -> EndpointSpec:
    """An endpoint in a request (`endpoint`, or an item of a new branch's `endpoints`)."""
    if not isinstance(raw, dict):
        raise bad_request(f"{where}: must be an object")
    kind = opt_str(raw, "type", f"{where}.type")
    if kind not in ("read_write", "read_only"):
        raise bad_request(f"{where}.type: required, one of read_write, read_only")
    return EndpointSpec(
        type=str(kind),
        settings=opt_obj(raw, "settings", f"{where}.settings"),
        autoscaling_limit_min_cu=opt_number(
            raw, "autoscaling_limit_min_cu", f"{where}.autoscaling_limit_min_cu", 0.25, 64
        ),
        autoscaling_limit_max_cu=opt_number(
            raw, "autoscaling_limit_max_cu", f"{where}.autoscaling_limit_max_cu", 0.25, 64
        ),
        suspend_timeout_seconds=opt_int(
            raw, "suspend_timeout_seconds", f"{where}.suspend_timeout_seconds", -1, 604800
        ),
        name=opt_str(raw, "name", f"{where}.name"),
        disabled=bool(opt_bool(raw, "disabled", f"{where}.disabled")),
    )
