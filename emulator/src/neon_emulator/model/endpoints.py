"""Endpoint calls: create (one read_write endpoint per branch, the project's defaults), patch (incl. moving
to another branch), delete, start, suspend, restart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .core import Model
from .entities import Endpoint, Operation, Project
from .errors import EmulatorError, bad_request, conflict


@dataclass(frozen=True)
class EndpointSpec:
    type: str = "read_write"
    settings: dict[str, Any] | None = None
    autoscaling_limit_min_cu: float | None = None
    autoscaling_limit_max_cu: float | None = None
    suspend_timeout_seconds: int | None = None
    name: str | None = None
    disabled: bool = False


def new_endpoint(model: Model, project: Project, branch_id: str, spec: EndpointSpec) -> Endpoint:
    if spec.type != "read_write":
        raise bad_request(
            "endpoint.type: only read_write endpoints are supported by the emulator "
            "(a read_only compute would need a second server on the same data directory)"
        )
    if model.endpoints_of(project.id, branch_id):
        raise conflict(f"branch {branch_id} already has a read_write endpoint")
    defaults = project.default_endpoint_settings
    now = model.clock.stamp()
    endpoint = Endpoint(
        id=model.new_id("ep"),
        project_id=project.id,
        branch_id=branch_id,
        type=spec.type,
        port=model.new_port(),
        created_at=now,
        updated_at=now,
        settings=spec.settings or {"pg_settings": {}},
        autoscaling_limit_min_cu=_first(
            spec.autoscaling_limit_min_cu, defaults.get("autoscaling_limit_min_cu"), 0.25
        ),
        autoscaling_limit_max_cu=_first(
            spec.autoscaling_limit_max_cu, defaults.get("autoscaling_limit_max_cu"), 0.25
        ),
        suspend_timeout_seconds=int(
            _first(spec.suspend_timeout_seconds, defaults.get("suspend_timeout_seconds"), 0)
        ),
        name=spec.name,
        disabled=spec.disabled,
        current_state="idle" if spec.disabled else "init",
        pending_state=None if spec.disabled else "active",
    )
    model.state.endpoints[endpoint.id] = endpoint
    return endpoint


def create_endpoint(
    model: Model, project_id: str, branch_id: str, spec: EndpointSpec
) -> tuple[Endpoint, list[Operation]]:
    project = model.check_unlocked(project_id)
    model.branch(project_id, branch_id)
    endpoint = new_endpoint(model, project, branch_id, spec)
    ops = [] if endpoint.disabled else [model.start_compute(endpoint, model.new_group())]
    return endpoint, ops


def update_endpoint(
    model: Model,
    project_id: str,
    endpoint_id: str,
    *,
    branch_id: str | None,
    settings: dict[str, Any] | None,
    min_cu: float | None,
    max_cu: float | None,
    suspend_timeout_seconds: int | None,
    name: str | None,
    disabled: bool | None,
) -> tuple[Endpoint, list[Operation]]:
    model.check_unlocked(project_id)
    endpoint = model.endpoint(project_id, endpoint_id)
    group = model.new_group()
    ops: list[Operation] = []
    if branch_id is not None and branch_id != endpoint.branch_id:
        model.branch(project_id, branch_id)
        if model.endpoints_of(project_id, branch_id):
            raise conflict(f"branch {branch_id} already has a read_write endpoint")
        ops.append(model.suspend_compute(endpoint, group))
        endpoint.branch_id = branch_id
        if not endpoint.disabled and not disabled:
            ops.append(model.start_compute(endpoint, group))
    if settings is not None:
        endpoint.settings = settings
    if min_cu is not None:
        endpoint.autoscaling_limit_min_cu = min_cu
    if max_cu is not None:
        endpoint.autoscaling_limit_max_cu = max_cu
    if suspend_timeout_seconds is not None:
        endpoint.suspend_timeout_seconds = suspend_timeout_seconds
    if name is not None:
        endpoint.name = name
    if disabled is not None and disabled != endpoint.disabled:
        endpoint.disabled = disabled
        if not ops:
            ops.append(
                model.suspend_compute(endpoint, group) if disabled else model.start_compute(endpoint, group)
            )
    model.touch(endpoint)
    return endpoint, ops


def delete_endpoint(
    model: Model, project_id: str, endpoint_id: str
) -> tuple[Endpoint, list[Operation]] | None:
    model.check_unlocked(project_id)
    endpoint = model.state.endpoints.get(endpoint_id)
    if endpoint is None or endpoint.project_id != project_id:
        return None
    op = model.suspend_compute(endpoint, model.new_group())
    del model.state.endpoints[endpoint_id]
    return endpoint, [op]


def start_endpoint(model: Model, project_id: str, endpoint_id: str) -> tuple[Endpoint, list[Operation]]:
    model.check_unlocked(project_id)
    endpoint = model.endpoint(project_id, endpoint_id)
    if endpoint.disabled:
        raise EmulatorError(400, f"endpoint {endpoint_id} is disabled")
    return endpoint, [model.start_compute(endpoint, model.new_group())]


def suspend_endpoint(model: Model, project_id: str, endpoint_id: str) -> tuple[Endpoint, list[Operation]]:
    model.check_unlocked(project_id)
    endpoint = model.endpoint(project_id, endpoint_id)
    if endpoint.pending_state is not None:
        raise EmulatorError(423, "endpoint is in some transitive state, could not suspend")
    return endpoint, [model.suspend_compute(endpoint, model.new_group())]


def restart_endpoint(model: Model, project_id: str, endpoint_id: str) -> tuple[Endpoint, list[Operation]]:
    model.check_unlocked(project_id)
    endpoint = model.endpoint(project_id, endpoint_id)
    group = model.new_group()
    return endpoint, [model.suspend_compute(endpoint, group), model.start_compute(endpoint, group)]


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)
