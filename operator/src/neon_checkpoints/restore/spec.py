"""A CheckpointRestore's spec as a frozen value, parsed once at the handler edge (pure, no I/O)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from neon_checkpoints.core.errors import InvalidSpec
from neon_checkpoints.core.secrets import SecretRef, secret_ref

Mode = Literal["Finalize", "Preview"]
OldBranchPolicy = Literal["Retain", "Delete"]


@dataclass(frozen=True)
class RestoreSpec:
    checkpoint: str
    mode: Mode = "Finalize"
    preview_secret_name: str | None = None
    old_branch_policy: OldBranchPolicy = "Retain"
    credentials: SecretRef | None = None

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> RestoreSpec:
        ref = spec.get("checkpointRef") or {}
        checkpoint = ref.get("name") if isinstance(ref, Mapping) else None
        if not isinstance(checkpoint, str) or not checkpoint:
            raise InvalidSpec("spec.checkpointRef.name is required")
        mode = spec.get("mode", "Finalize")
        if mode not in ("Finalize", "Preview"):
            raise InvalidSpec(f"spec.mode must be Finalize or Preview, got {mode!r}")
        policy = spec.get("oldBranchPolicy", "Retain")
        if policy not in ("Retain", "Delete"):
            raise InvalidSpec(f"spec.oldBranchPolicy must be Retain or Delete, got {policy!r}")
        secret = spec.get("previewSecretName") or None
        if secret is not None and not isinstance(secret, str):
            raise InvalidSpec(f"spec.previewSecretName must be a Secret name, got {secret!r}")
        if secret is not None and mode != "Preview":
            raise InvalidSpec("spec.previewSecretName is only valid with mode Preview")
        return cls(
            checkpoint=checkpoint,
            mode=mode,
            preview_secret_name=secret,
            old_branch_policy=policy,
            credentials=secret_ref(spec),
        )

    def secret_name(self, restore_name: str) -> str:
        """The Secret a Preview writes its connection URI to: the one named, else `<restore>-preview`, cut
        and given a hash of the whole name when that would pass Kubernetes' 253 characters."""
        if self.preview_secret_name:
            return self.preview_secret_name
        name = f"{restore_name}{_PREVIEW_SUFFIX}"
        if len(name) <= _NAME_LIMIT:
            return name
        digest = hashlib.sha256(restore_name.encode()).hexdigest()[:8]
        keep = _NAME_LIMIT - len(_PREVIEW_SUFFIX) - len(digest) - 1
        return f"{restore_name[:keep].rstrip('-.')}-{digest}{_PREVIEW_SUFFIX}"


_PREVIEW_SUFFIX = "-preview"
# A Secret's name is a DNS subdomain: at most 253 characters.
_NAME_LIMIT = 253
