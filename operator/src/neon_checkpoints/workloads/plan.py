"""How workloads are rolled back (pure, no I/O): the bodies sent to the apiserver, what is left to do after a
crash, and when the controller-manager has caught up.

One field manager applies every workload (server-side apply), so fields this operator set in an earlier
restore and that the checkpoint's version lacks are removed by the next apply, and nothing another manager
owns outside the recorded fields is touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neon_checkpoints.workloads.spec import SCALABLE, Kind

FIELD_MANAGER = "neon-checkpoints"
COPY_LABEL = "neoncheckpoints.dev/preview-of"


def api_version(kind: str) -> str:
    return "v1" if kind == "ConfigMap" else "apps/v1"


def apply_body(kind: Kind, name: str, namespace: str, content: Mapping[str, Any]) -> dict[str, Any]:
    """The server-side apply of a recorded workload: exactly its recorded fields."""
    head = {"apiVersion": api_version(kind), "kind": kind, "metadata": {"name": name, "namespace": namespace}}
    if kind == "ConfigMap":
        return {**head, **{k: dict(v) for k, v in content.items()}}
    return {**head, "spec": dict(content)}


def scale_to_zero() -> dict[str, Any]:
    """A merge patch (not an apply: an apply of replicas alone would drop the template fields this
    manager applied before)."""
    return {"spec": {"replicas": 0}}


@dataclass(frozen=True)
class Progress:
    """One workload of a restore, as the meta database records it."""

    position: int
    kind: Kind
    name: str
    target_digest: str
    replaced_digest: str | None  # None: it did not exist when the restore began
    applied_generation: int | None
    applied: bool

    @property
    def revision(self) -> str:
        return self.target_digest[:12]

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


def to_apply(progress: Sequence[Progress]) -> list[Progress]:
    """What a (resumed) restore still has to apply, in order."""
    return [p for p in sorted(progress, key=lambda p: p.position) if not p.applied]


def to_quiesce(progress: Sequence[Progress]) -> list[Progress]:
    return [p for p in sorted(progress, key=lambda p: p.position) if p.kind in SCALABLE]


def generation_observed(obj: Mapping[str, Any] | None, generation: int | None) -> bool:
    """Whether the controller-manager has acted on `generation` (a ConfigMap has no controller)."""
    if obj is None or generation is None:
        return obj is not None
    observed = (obj.get("status") or {}).get("observedGeneration")
    return isinstance(observed, int) and observed >= generation


def scaled_down(obj: Mapping[str, Any] | None) -> bool:
    """Spec at zero and the controller has seen it (its pods are being removed)."""
    if obj is None:
        return True
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    meta = obj.get("metadata") or {}
    return (
        spec.get("replicas") == 0
        and status.get("observedGeneration", 0) >= meta.get("generation", 0)
        and not status.get("replicas")
    )


def ready(obj: Mapping[str, Any] | None) -> bool:
    """All wanted replicas updated and ready (opt-in: `spec.waitForReady`)."""
    if obj is None:
        return False
    wanted = (obj.get("spec") or {}).get("replicas", 1)
    status = obj.get("status") or {}
    return (
        status.get("readyReplicas", 0) >= wanted
        and status.get("updatedReplicas", 0) >= wanted
        and generation_observed(obj, (obj.get("metadata") or {}).get("generation"))
    )


def summary(progress: Sequence[Progress], state: str) -> list[dict[str, str]]:
    return [
        {
            "kind": p.kind,
            "name": p.name,
            "revision": p.revision,
            "replacedRevision": p.replaced_digest[:12] if p.replaced_digest else "",
            "state": "Applied" if p.applied else state,
        }
        for p in sorted(progress, key=lambda p: p.position)
    ]
