"""Secrets at rest (issue 20 item 7): after a run, no known secret value (nor a private key) is in a file
that is not mode 0600, and every 0600 file is one README.md's "Files with secrets" list names.

`find_leaks(root, secret_values(...), readme_patterns("...prefix/"))` returns one line per problem; a test
asserts the list is empty."""

from __future__ import annotations

import base64
import fnmatch
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from devenv.tools import REPO_ROOT

PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
SECTION = "### Files with secrets"


def secret_values(**named: str) -> dict[str, bytes]:
    """What to look for, by a label that names it (never the value): each value, its base64 (a Secret
    written out by kubectl), and a connection string's password on its own."""
    found: dict[str, bytes] = {}
    for label, value in named.items():
        if not value:
            continue
        found[label] = value.encode()
        found[f"{label} (base64)"] = base64.b64encode(value.encode())
        if "://" in value and (password := urlsplit(value).password):
            found[f"{label}'s password"] = unquote(password).encode()
    return found


def readme_patterns(prefix: str, readme: Path = REPO_ROOT / "README.md") -> list[str]:
    """The glob patterns (relative to `prefix`, e.g. ".demo/") that the README's "Files with secrets"
    list names in backquotes."""
    text = readme.read_text()
    start = text.index(SECTION) + len(SECTION)
    end = text.find("\n#", start)
    section = text[start : end if end >= 0 else len(text)]
    heads = re.findall(r"^- (.+?): ", section, flags=re.M)  # "- `a`, `b`: what they hold"
    named = (p for head in heads for p in re.findall(r"`([^`]+)`", head))
    return [p[len(prefix) :] for p in named if p.startswith(prefix)]


def _listed(relative: str, patterns: Iterable[str]) -> bool:
    # fnmatch's `*` also crosses `/`, so `dir/**` and `dir/*` both cover a whole tree.
    return any(fnmatch.fnmatchcase(relative, p) for p in patterns)


def find_leaks(root: Path, secrets: Mapping[str, bytes], listed: Iterable[str]) -> list[str]:
    """Every problem under `root`: a secret in a file readable by others than its owner (or a group), or
    a 0600 file the README does not list."""
    patterns = list(listed)
    problems: list[str] = []
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = Path(directory, name)
            try:
                info = path.lstat()
                data = b"" if stat.S_IMODE(info.st_mode) == 0o600 else path.read_bytes()
            except FileNotFoundError:  # a running server's temporary file, gone meanwhile
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            relative = path.relative_to(root).as_posix()
            mode = stat.S_IMODE(info.st_mode)
            if mode == 0o600:
                if not _listed(relative, patterns):
                    problems.append(f"{relative}: mode 0600 but not in README.md's {SECTION!r} list")
                continue
            held = [label for label, value in secrets.items() if value in data]
            if PRIVATE_KEY.search(data):
                held.append("a private key")
            if held:
                problems.append(f"{relative}: mode {mode:04o} holds {', '.join(held)}")
    return problems
