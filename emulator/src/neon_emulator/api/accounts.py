"""Accounts: each API key is one account with one organisation, seeing only its own projects (as a Neon
organisation key does: another account's project is answered 404, as if it did not exist).

The first key (NEON_EMULATOR_API_KEY) is the account `emulator` in `org-emulator`; it owns the projects made
before accounts existed and is the only key the admin routes accept. Every other key (NEON_EMULATOR_API_KEYS,
or POST /admin/api-keys) is the account `user-<hash>` in `org-<hash>`, named after a hash of the key, so the
same key finds its projects again after a restart even though the emulator never writes keys to disk.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from neon_emulator.model.projects import DEFAULT_ORG, DEFAULT_OWNER

FIRST_ACCOUNT = DEFAULT_OWNER
FIRST_ORG = DEFAULT_ORG
CREATED_AT = "2024-01-01T00:00:00Z"  # accounts have no history here; one fixed, plausible date


class AccountKeyError(ValueError):
    """A key that cannot be added (empty, or already an account's)."""


@dataclass(frozen=True)
class Account:
    id: str
    org_id: str
    key: str = field(repr=False)

    @property
    def name(self) -> str:
        return "Emulator" if self.id == FIRST_ACCOUNT else f"Emulator {self.id}"

    @property
    def email(self) -> str:
        return f"{self.id}@neon-emulator.invalid"

    def owns(self, owner: str | None) -> bool:
        """Whether a project of this owner (None: made before accounts) belongs to this account."""
        return (owner or FIRST_ACCOUNT) == self.id


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class Accounts:
    def __init__(self, first_key: str, more_keys: Sequence[str] = ()) -> None:
        if not first_key:
            raise AccountKeyError("the first API key must not be empty")
        self._accounts = [Account(FIRST_ACCOUNT, FIRST_ORG, first_key)]
        for key in more_keys:
            self.add(key)

    @property
    def admin(self) -> Account:
        return self._accounts[0]

    def all(self) -> list[Account]:
        return list(self._accounts)

    def add(self, key: str) -> Account:
        if not key or any(c.isspace() for c in key):
            raise AccountKeyError("an API key must be non-empty and contain no whitespace")
        if self.find(f"Bearer {key}") is not None:
            raise AccountKeyError("that API key is already an account's")
        digest = _digest(key)
        account = Account(f"user-{digest}", f"org-{digest}", key)
        self._accounts.append(account)
        return account

    def find(self, authorization: str) -> Account | None:
        """The account whose key the `Authorization` header carries (compared in constant time)."""
        found = None
        for account in self._accounts:
            if hmac.compare_digest(authorization.encode(), f"Bearer {account.key}".encode()):
                found = account
        return found


def user_view(account: Account) -> dict[str, Any]:
    """`GET /users/me` (Neon's CurrentUserInfoResponse)."""
    return {
        "id": account.id,
        "email": account.email,
        "login": account.id,
        "name": account.name,
        "last_name": "",
        "image": "",
        "active_seconds_limit": 0,
        "compute_seconds_limit": 0,
        "projects_limit": 1000,
        "branches_limit": 5000,
        "max_autoscaling_limit": 0.25,
        "plan": "scale",
        # Optional in Neon's current document, required by neon-api 0.3's model: an account with no billing.
        "billing_account": {
            "state": "active",
            "payment_source": {"type": "none"},
            "subscription_type": "scale",
            "payment_method": "none",
            "quota_reset_at_last": CREATED_AT,
            "name": account.name,
            "email": account.email,
            "address_city": "",
            "address_country": "",
            "address_line1": "",
            "address_line2": "",
            "address_postal_code": "",
            "address_state": "",
        },
        "auth_accounts": [
            {
                "provider": "keycloak",
                "email": account.email,
                "name": account.name,
                "login": account.id,
                "image": "",
            }
        ],
    }


def organization_view(account: Account) -> dict[str, Any]:
    """An item of `GET /users/me/organizations` (Neon's Organization)."""
    return {
        "id": account.org_id,
        "name": f"{account.name}'s organization",
        "handle": account.org_id,
        "plan": "scale",
        "created_at": CREATED_AT,
        "updated_at": CREATED_AT,
        "managed_by": "console",
    }
