"""The CheckpointRestore an action creates: the same object a user would `kubectl apply` (pure).

The page shows this YAML before the user confirms, and the confirmed request rebuilds it from the same few
fields (action, target, name): the server never applies YAML sent by the browser.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from neon_checkpoints.names import API_VERSION, RESTORE_KIND

Action = Literal["preview", "restore", "undo"]
ACTIONS: tuple[Action, ...] = ("preview", "restore", "undo")
# A Kubernetes object name (DNS subdomain), which every name the page passes on must be.
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_STEM_LIMIT = 40


class BadAction(ValueError):
    """The request does not describe an action the page offers (unknown action, malformed name)."""


@dataclass(frozen=True)
class Request:
    action: Action
    target: str  # a Checkpoint (preview, restore) or a CheckpointRestore (undo)
    name: str  # the CheckpointRestore to create

    @classmethod
    def parse(cls, action: str, target: str, name: str | None = None) -> Request:
        if action not in ACTIONS:
            raise BadAction(f"unknown action {action!r}")
        if not NAME.match(target):
            raise BadAction(f"not a resource name: {target!r}")
        chosen = name if name is not None else new_name(action, target)
        if not NAME.match(chosen):
            raise BadAction(f"not a resource name: {chosen!r}")
        return cls(action, target, chosen)


def new_name(action: Action, target: str, token: str | None = None) -> str:
    """`restore-v1-k3x9q`: the action, the target (cut) and a random suffix, so two clicks never collide."""
    suffix = token or secrets.token_hex(3)
    stem = target[:_STEM_LIMIT].rstrip("-.")
    return f"{action}-{stem}-{suffix}"


def body(request: Request, namespace: str) -> dict[str, Any]:
    spec: dict[str, Any]
    if request.action == "undo":
        spec = {"undo": {"restoreRef": {"name": request.target}}}
    elif request.action == "preview":
        spec = {"checkpointRef": {"name": request.target}, "mode": "Preview"}
    else:
        spec = {"checkpointRef": {"name": request.target}, "mode": "Finalize"}
    return {
        "apiVersion": API_VERSION,
        "kind": RESTORE_KIND,
        "metadata": {"name": request.name, "namespace": namespace},
        "spec": spec,
    }


def as_yaml(manifest: dict[str, Any]) -> str:
    return yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False)
