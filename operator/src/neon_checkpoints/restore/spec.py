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
WorkloadsPolicy = Literal["Restore", "Ignore"]
DEFAULT_READY_TIMEOUT = 300.0


@dataclass(frozen=True)
class RestoreSpec:
    # The Checkpoint to restore; empty for an undo.
    checkpoint: str
    mode: Mode = "Finalize"
    preview_secret_name: str | None = None
    old_branch_policy: OldBranchPolicy = "Retain"
    credentials: SecretRef | None = None
    # The finalized CheckpointRestore this one undoes (spec.undo.restoreRef.name).
    undo_of: str | None = None
    workloads: WorkloadsPolicy = "Restore"
    quiesce: bool = False
    # spec.waitForReady.timeoutSeconds; None: Succeeded once the controller observed each new generation.
    ready_timeout: float | None = None

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> RestoreSpec:
        undo = spec.get("undo") or None
        undo_of = (
            _name(undo.get("restoreRef"), "spec.undo.restoreRef.name") if isinstance(undo, Mapping) else None
        )
        if undo is not None and undo_of is None:
            raise InvalidSpec("spec.undo.restoreRef.name is required")
        ref = spec.get("checkpointRef") or None
        checkpoint = _name(ref, "spec.checkpointRef.name") if ref is not None else None
        if (checkpoint is None) == (undo_of is None):
            raise InvalidSpec("set exactly one of spec.checkpointRef and spec.undo")
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
        if undo_of is not None and mode != "Finalize":
            raise InvalidSpec("spec.undo is a Finalize restore: spec.mode must be Finalize")
        workloads = spec.get("workloads", "Restore")
        if workloads not in ("Restore", "Ignore"):
            raise InvalidSpec(f"spec.workloads must be Restore or Ignore, got {workloads!r}")
        quiesce = spec.get("quiesce", False)
        if not isinstance(quiesce, bool):
            raise InvalidSpec("spec.quiesce must be true or false")
        wait = spec.get("waitForReady")
        ready_timeout = None
        if wait is not None:
            seconds = wait.get("timeoutSeconds", DEFAULT_READY_TIMEOUT) if isinstance(wait, Mapping) else None
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 1 <= seconds <= 3600:
                raise InvalidSpec("spec.waitForReady.timeoutSeconds must be 1 to 3600")
            ready_timeout = float(seconds)
        return cls(
            checkpoint=checkpoint or "",
            undo_of=undo_of,
            workloads=workloads,
            quiesce=quiesce,
            ready_timeout=ready_timeout,
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


def _name(ref: Any, where: str) -> str:
    name = ref.get("name") if isinstance(ref, Mapping) else None
    if not isinstance(name, str) or not name:
        raise InvalidSpec(f"{where} is required")
    return name


_PREVIEW_SUFFIX = "-preview"
# A Secret's name is a DNS subdomain: at most 253 characters.
_NAME_LIMIT = 253
