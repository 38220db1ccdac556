"""Who may act: a CSRF token bound to the browser's session cookie, and the request's own origin (pure).

An action needs all of: the session cookie (SameSite=Strict, so another site's form never carries it), the
token derived from it by HMAC with this process's secret (another site cannot read it), an `Origin` that is
this page's own, and no `Sec-Fetch-Site` other than same-origin. Any Host other than the addresses served is
refused on every request, so a DNS-rebinding page cannot read the timeline either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection, Mapping

COOKIE = "ncui_session"
FIELD = "csrf_token"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def new_session() -> str:
    return secrets.token_urlsafe(24)


def token(secret: bytes, session: str) -> str:
    return hmac.new(secret, session.encode(), hashlib.sha256).hexdigest()


def host_name(host: str) -> str:
    """`127.0.0.1:8765` -> `127.0.0.1`; `[::1]:8765` -> `::1`."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host: str | None, allowed: Collection[str]) -> bool:
    return bool(host) and host_name(host or "").lower() in allowed


def refusal(
    *,
    secret: bytes,
    host: str | None,
    headers: Mapping[str, str],
    cookie: str | None,
    submitted: str | None,
) -> str | None:
    """Why an action request is refused, or None when it may go ahead."""
    origin = headers.get("Origin")
    if not origin or origin == "null" or origin != f"http://{host}":
        return f"the request comes from another origin ({origin or 'no Origin header'})"
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return f"the request comes from another site (Sec-Fetch-Site: {site})"
    if not cookie:
        return "no session cookie: reload the page and try again"
    if not submitted or not hmac.compare_digest(submitted, token(secret, cookie)):
        return "the CSRF token is missing or wrong: reload the page and try again"
    return None
