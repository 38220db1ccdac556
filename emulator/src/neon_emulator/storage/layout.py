"""Pure naming rules for the storage root: which names are valid and where their data directories live."""

from __future__ import annotations

import re
from pathlib import Path

from neon_emulator.storage.errors import StorageError

# Branch and snapshot ids (`br-...`, `snap-...`) and test names; never a path component like `..` or `a/b`.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

# Entries in the storage root that are not clusters start with a dot.
TEMPLATE = ".template"
STAGING_PREFIX = ".staging-"


def checked_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise StorageError(f"invalid cluster name {name!r}: use letters, digits, '.', '_' or '-'")
    return name


def data_dir(root: Path, name: str) -> Path:
    return root / checked_name(name)


def staging_dir(root: Path, name: str) -> Path:
    return root / f"{STAGING_PREFIX}{checked_name(name)}"
