"""Which Neon projects a namespace may use, and whether the operator's default key may serve it (pure).

The policy lives on the Namespace, which tenants cannot usually edit (RBAC on namespaces is the cluster
admin's): annotation `neoncheckpoints.dev/allowed-projects` lists project ids (comma-separated, `*` for
any) and `neoncheckpoints.dev/default-key: allowed` lets the operator's own key serve the namespace.
Without them, mode `enforced` (the default) refuses everything; mode `open` (single-tenant clusters)
allows any project with any key unless an annotation says otherwise. The ValidatingAdmissionPolicy the
Helm chart installs checks the same rules with CEL at `kubectl apply`; this module is what the operator
enforces always, before any Neon call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# On Namespaces: the Neon projects the namespace may use (comma-separated ids, `*` for any) and whether the
# operator's default key may serve it (`allowed` / `denied`). (names.py's group, spelt out: core is below it.)
ALLOWED_PROJECTS_ANNOTATION = "neoncheckpoints.dev/allowed-projects"
DEFAULT_KEY_ANNOTATION = "neoncheckpoints.dev/default-key"
TenancyMode = Literal["enforced", "open"]
TENANCY_MODES: tuple[TenancyMode, ...] = ("enforced", "open")
ANY_PROJECT = "*"
DEFAULT_KEY_ALLOWED = "allowed"
DEFAULT_KEY_DENIED = "denied"


class ProjectNotAllowed(Exception):
    """A flow's Neon project (or its key) is not one its namespace may use: permanent, before any call."""


@dataclass(frozen=True)
class NamespacePolicy:
    """What a namespace's annotations say; None: the annotation is absent (the mode decides)."""

    namespace: str
    projects: frozenset[str] | None = None
    default_key: bool | None = None

    @classmethod
    def from_annotations(cls, namespace: str, annotations: Mapping[str, str] | None) -> NamespacePolicy:
        annotations = annotations or {}
        raw = annotations.get(ALLOWED_PROJECTS_ANNOTATION)
        projects = None if raw is None else frozenset(p.strip() for p in raw.split(",") if p.strip())
        key = annotations.get(DEFAULT_KEY_ANNOTATION)
        default_key = None if key is None else key.strip().lower() == DEFAULT_KEY_ALLOWED
        return cls(namespace, projects, default_key)


def refusal(policy: NamespacePolicy, project_id: str, *, default_key: bool, mode: TenancyMode) -> str | None:
    """Why namespace `policy.namespace` may not use `project_id` (with the operator's key when
    `default_key`), or None when it may."""
    ns = policy.namespace
    projects = policy.projects
    if projects is None and mode == "enforced":
        return (
            f"namespace {ns} names no Neon projects it may use (annotation {ALLOWED_PROJECTS_ANNOTATION} "
            "on the Namespace, set by a cluster admin)"
        )
    if projects is not None and ANY_PROJECT not in projects and project_id not in projects:
        return (
            f"Neon project {project_id} is not one namespace {ns} may use "
            f"(annotation {ALLOWED_PROJECTS_ANNOTATION} on the Namespace)"
        )
    if default_key:
        allowed = policy.default_key if policy.default_key is not None else mode == "open"
        if not allowed:
            return (
                f"the operator's default Neon key may not serve namespace {ns}: set "
                f"spec.credentialsSecretRef, or annotate the Namespace {DEFAULT_KEY_ANNOTATION}=allowed"
            )
    return None
