"""The tenancy decision (core/tenancy.py): which project a namespace may use, with which key, per mode."""

from __future__ import annotations

import pytest

from neon_checkpoints.core.tenancy import ALLOWED_PROJECTS_ANNOTATION as PROJECTS
from neon_checkpoints.core.tenancy import DEFAULT_KEY_ANNOTATION as KEY
from neon_checkpoints.core.tenancy import NamespacePolicy, TenancyMode, refusal

ALLOWED = None  # the decision allows


@pytest.mark.parametrize(
    ("mode", "annotations", "project", "default_key", "refused_because"),
    [
        pytest.param("enforced", {}, "p-a", True, "names no Neon projects", id="enforced-no-annotation"),
        pytest.param("enforced", {}, "p-a", False, "names no Neon projects", id="enforced-own-key-too"),
        pytest.param("enforced", {PROJECTS: "p-b"}, "p-a", False, "p-a is not one", id="other-tenants"),
        pytest.param("enforced", {PROJECTS: "p-b"}, "p-b", False, ALLOWED, id="own-project-own-key"),
        pytest.param(
            "enforced", {PROJECTS: "p-b"}, "p-b", True, "default Neon key", id="default-key-needs-ok"
        ),
        pytest.param("enforced", {PROJECTS: " p-a , p-b ", KEY: "allowed"}, "p-b", True, ALLOWED, id="list"),
        pytest.param("enforced", {PROJECTS: "p-b", KEY: "Allowed"}, "p-b", True, ALLOWED, id="case"),
        pytest.param("enforced", {PROJECTS: "p-b", KEY: "yes"}, "p-b", True, "default Neon key", id="not-ok"),
        pytest.param("enforced", {PROJECTS: "*"}, "p-z", False, ALLOWED, id="any-project-own-key"),
        pytest.param("enforced", {PROJECTS: "*"}, "p-z", True, "default Neon key", id="any-project-default"),
        pytest.param("enforced", {PROJECTS: ""}, "p-a", False, "p-a is not one", id="empty-list"),
        pytest.param("enforced", {PROJECTS: "p-a,"}, "", False, " is not one", id="empty-project"),
        pytest.param("open", {}, "p-a", True, ALLOWED, id="open-anything"),
        pytest.param("open", {PROJECTS: "p-b"}, "p-a", True, "p-a is not one", id="open-list-restricts"),
        pytest.param("open", {KEY: "denied"}, "p-a", True, "default Neon key", id="open-key-denied"),
        pytest.param("open", {KEY: "denied"}, "p-a", False, ALLOWED, id="open-key-denied-own-key"),
    ],
)
def test_refusal(
    mode: TenancyMode,
    annotations: dict[str, str],
    project: str,
    default_key: bool,
    refused_because: str | None,
) -> None:
    policy = NamespacePolicy.from_annotations("tenant-b", annotations)
    why = refusal(policy, project, default_key=default_key, mode=mode)
    if refused_because is None:
        assert why is None
    else:
        assert why is not None and refused_because in why and "tenant-b" in why
