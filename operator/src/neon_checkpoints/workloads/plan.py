"""How workloads are rolled back (pure, no I/O): the bodies sent to the apiserver, what is left to do after a
crash, and when the controller-manager has caught up.

One field manager applies every workload (server-side apply), so fields this operator set in an earlier
restore and that the checkpoint's version lacks are removed by the next apply, and nothing another manager
owns outside the recorded fields is touched.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neon_checkpoints.workloads.spec import SCALABLE, DatabaseUrl, Kind

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


# -- Preview copies -------------------------------------------------------------------------------------

COPY_NAME_LIMIT = 200
# On a copy's pods, in place of the original's labels (a production Service must not pick them up).
COPY_WORKLOAD_LABEL = "neoncheckpoints.dev/preview-workload"


def copy_name(name: str, restore_name: str) -> str:
    """`<workload>-<restore>`, cut and given a hash of the whole when it would pass the limit."""
    full = f"{name}-{restore_name}"
    if len(full) <= COPY_NAME_LIMIT:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[: COPY_NAME_LIMIT - 9].rstrip('-.')}-{digest}"


@dataclass(frozen=True)
class CopyPlan:
    """Which recorded workloads a Preview copies (new name by original key), or why none; `skipped`: why
    a workload that names its database URL is not copied."""

    names: Mapping[tuple[str, str], str]
    reason: str | None
    skipped: tuple[str, ...] = ()


def plan_copies(
    recorded: Sequence[tuple[Kind, str, str | None, Mapping[str, Any]]], restore_name: str, checkpoint: str
) -> CopyPlan:
    """`recorded`: (kind, name, stored database URL source, recorded content) of each workload the
    checkpoint recorded. Only the Deployments/StatefulSets that name their database URL are copied (a copy
    that kept production's URL would write to production), with every recorded ConfigMap they may mount;
    one naming a Secret key that none of its containers reads as an env var is not copied."""
    pointed: list[tuple[Kind, str]] = []
    skipped: list[str] = []
    for kind, name, stored, content in recorded:
        url = DatabaseUrl.from_stored(stored)
        if kind not in SCALABLE or url is None:
            continue
        if url.secret is not None and not reads_secret_key(content, *url.secret):
            skipped.append(
                f"{kind}/{name}: no container reads {url} as an env var (env valueFrom or envFrom; "
                "Secret volumes are not redirected)"
            )
            continue
        pointed.append((kind, name))
    if not pointed:
        why = f": {'; '.join(skipped)}" if skipped else ""
        return CopyPlan(
            {},
            f"no copies of the workloads were made: no Deployment or StatefulSet of Checkpoint {checkpoint} "
            f"names its database URL (spec.workloads[].databaseUrl){why}",
            tuple(skipped),
        )
    configmaps = [(k, n) for k, n, _, _ in recorded if k == "ConfigMap"]
    return CopyPlan(
        {key: copy_name(key[1], restore_name) for key in (*pointed, *configmaps)}, None, tuple(skipped)
    )


def _containers(content: Mapping[str, Any]) -> list[Any]:
    pod = ((content.get("template") or {}).get("spec")) or {}
    return [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]


def reads_secret_key(content: Mapping[str, Any], secret: str, key: str) -> bool:
    """Whether a container of the recorded pod template reads `key` of Secret `secret` as an env var."""
    return any(_secret_env_names(c, secret, key) for c in _containers(content))


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _secret_env_names(container: Mapping[str, Any], secret: str, key: str) -> list[str]:
    """The env vars of `container` carrying that Secret key: each `env` entry with that secretKeyRef, and
    `<prefix><key>` for each `envFrom` of the whole Secret (when that is a valid env var name)."""
    names = [
        str(e.get("name"))
        for e in container.get("env") or []
        if _is_ref((e.get("valueFrom") or {}).get("secretKeyRef"), secret, key)
    ]
    for source in container.get("envFrom") or []:
        ref = source.get("secretRef") or {}
        name = f"{source.get('prefix') or ''}{key}"
        if ref.get("name") == secret and _ENV_NAME.match(name) and name not in names:
            names.append(name)
    return names


def _is_ref(ref: Any, secret: str, key: str) -> bool:
    return isinstance(ref, Mapping) and ref.get("name") == secret and ref.get("key") == key


def copy_body(
    kind: Kind,
    name: str,
    content: Mapping[str, Any],
    *,
    namespace: str,
    new_name: str,
    restore_uid: str,
    owner: Mapping[str, Any],
    database_url: DatabaseUrl | None,
    secret_name: str,
    configmaps: Mapping[str, str],
) -> dict[str, Any]:
    """A Preview's copy: the recorded version under `new_name`, owned by the restore, its pods labelled for
    the copy only, the database URL (its env var, or every env var carrying its Secret key) read from the
    preview's Secret, ConfigMaps renamed to copies. Volumes of Secrets are left as recorded."""
    labels = {COPY_LABEL: restore_uid}
    head = {
        "apiVersion": api_version(kind),
        "kind": kind,
        "metadata": {
            "name": new_name,
            "namespace": namespace,
            "labels": labels,
            "ownerReferences": [dict(owner)],
        },
    }
    if kind == "ConfigMap":
        return {**head, **copy.deepcopy(dict(content))}
    spec = copy.deepcopy(dict(content))
    pod_labels = {
        COPY_LABEL: restore_uid,
        COPY_WORKLOAD_LABEL: hashlib.sha256(new_name.encode()).hexdigest()[:16],
    }
    spec["selector"] = {"matchLabels": pod_labels}
    template = spec.setdefault("template", {})
    meta = template.setdefault("metadata", {})
    meta["labels"] = dict(pod_labels)
    pod = template.setdefault("spec", {})
    for volume in pod.get("volumes") or []:
        if "configMap" in volume and volume["configMap"].get("name") in configmaps:
            volume["configMap"]["name"] = configmaps[volume["configMap"]["name"]]
    for container in [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]:
        _rewire(container, configmaps, database_url, secret_name)
    return {**head, "spec": spec}


def _rewire(
    container: dict[str, Any], configmaps: Mapping[str, str], url: DatabaseUrl | None, secret_name: str
) -> None:
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref and ref.get("name") in configmaps:
            ref["name"] = configmaps[ref["name"]]
    env = [dict(e) for e in container.get("env") or []]
    for entry in env:
        ref = (entry.get("valueFrom") or {}).get("configMapKeyRef")
        if ref and ref.get("name") in configmaps:
            ref["name"] = configmaps[ref["name"]]
    if url is not None and url.secret is not None:
        # Each env var carrying the key, in its place; one an envFrom of the whole Secret carries gets an
        # explicit entry (an explicit entry wins over envFrom), appended after the container's own.
        names = _secret_env_names(container, *url.secret)
        preview = {"secretKeyRef": {"name": secret_name, "key": "uri"}}
        for entry in env:
            if _is_ref((entry.get("valueFrom") or {}).get("secretKeyRef"), *url.secret):
                entry["valueFrom"] = copy.deepcopy(preview)
        explicit = {e.get("name") for e in env}
        env.extend({"name": n, "valueFrom": copy.deepcopy(preview)} for n in names if n not in explicit)
    env_name = url.env if url is not None else None
    if env_name:
        # In its place: Kubernetes expands `$(DATABASE_URL)` in a later variable only from those before it.
        # A container without it gets it appended (it wins over an envFrom that carries production's URL).
        pointed = {"name": env_name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": "uri"}}}
        listed = [e.get("name") for e in env]
        if env_name in listed:
            first = listed.index(env_name)
            env = [
                pointed if i == first else e for i, e in enumerate(env) if i == first or listed[i] != env_name
            ]
        else:
            env.append(pointed)
    if env:
        container["env"] = env
