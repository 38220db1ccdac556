"""Roles, databases and connection URIs; `apply_config` operations apply them to the branch's postgres."""

from __future__ import annotations

from .core import Model
from .entities import Database, Endpoint, Operation, Role
from .errors import EmulatorError, bad_request, conflict, not_found
from .ids import new_password

RESERVED_ROLES = frozenset({"cloud_admin", "postgres", "public", "none"})
RESERVED_DATABASES = frozenset({"postgres", "template0", "template1"})


def _check_name(field: str, name: str) -> None:
    if not name or len(name.encode()) > 63:
        raise bad_request(f"{field}: must be 1 to 63 bytes long")


def _apply(model: Model, project_id: str, branch_id: str, work: dict[str, str]) -> Operation:
    return model.add_op(project_id, "apply_config", work, model.new_group(), branch_id=branch_id)


def role(model: Model, project_id: str, branch_id: str, name: str) -> Role:
    model.branch(project_id, branch_id)
    for r in model.roles_of(branch_id):
        if r.name == name:
            return r
    raise not_found("role", name)


def database(model: Model, project_id: str, branch_id: str, name: str) -> Database:
    model.branch(project_id, branch_id)
    for d in model.databases_of(branch_id):
        if d.name == name:
            return d
    raise not_found("database", name)


def create_role(
    model: Model, project_id: str, branch_id: str, name: str, *, no_login: bool
) -> tuple[Role, list[Operation]]:
    model.check_unlocked(project_id)
    model.branch(project_id, branch_id)
    _check_name("role.name", name)
    if name.lower() in RESERVED_ROLES or name.startswith("pg_"):
        raise bad_request(f"role.name: {name!r} is reserved")
    if any(r.name == name for r in model.roles_of(branch_id)):
        raise conflict(f'role "{name}" already exists')
    now = model.clock.stamp()
    created = Role(branch_id, name, new_password(), now, now, login=not no_login)
    model.state.roles.append(created)
    return created, [_apply(model, project_id, branch_id, {"kind": "sync", "branch_id": branch_id})]


def delete_role(
    model: Model, project_id: str, branch_id: str, name: str
) -> tuple[Role, list[Operation]] | None:
    model.check_unlocked(project_id)
    model.branch(project_id, branch_id)
    found = next((r for r in model.roles_of(branch_id) if r.name == name), None)
    if found is None:
        return None
    owned = [d.name for d in model.databases_of(branch_id) if d.owner_name == name]
    if owned:
        raise EmulatorError(
            422, f"role {name!r} owns database(s) {', '.join(owned)}; delete or reassign them first"
        )
    model.state.roles.remove(found)
    work = {"kind": "drop_role", "branch_id": branch_id, "name": name}
    return found, [_apply(model, project_id, branch_id, work)]


def reveal_password(model: Model, project_id: str, branch_id: str, name: str) -> str:
    project = model.project(project_id)
    found = role(model, project_id, branch_id, name)
    if not project.store_passwords:
        raise EmulatorError(412, "passwords are not stored for this project (store_passwords is false)")
    return found.password


def reset_password(model: Model, project_id: str, branch_id: str, name: str) -> tuple[Role, list[Operation]]:
    model.check_unlocked(project_id)
    found = role(model, project_id, branch_id, name)
    found.password = new_password()
    found.updated_at = model.clock.stamp()
    return found, [_apply(model, project_id, branch_id, {"kind": "sync", "branch_id": branch_id})]


def create_database(
    model: Model, project_id: str, branch_id: str, name: str, owner_name: str
) -> tuple[Database, list[Operation]]:
    model.check_unlocked(project_id)
    model.branch(project_id, branch_id)
    _check_name("database.name", name)
    if name in RESERVED_DATABASES:
        raise bad_request(f"database.name: {name!r} is reserved")
    if any(d.name == name for d in model.databases_of(branch_id)):
        raise conflict(f'database "{name}" already exists')
    if not any(r.name == owner_name for r in model.roles_of(branch_id)):
        raise bad_request(f"database.owner_name: role {owner_name!r} does not exist on branch {branch_id}")
    now = model.clock.stamp()
    created = Database(model.next_database_id(), branch_id, name, owner_name, now, now)
    model.state.databases.append(created)
    return created, [_apply(model, project_id, branch_id, {"kind": "sync", "branch_id": branch_id})]


def update_database(
    model: Model, project_id: str, branch_id: str, name: str, *, new_name: str | None, owner_name: str | None
) -> tuple[Database, list[Operation]]:
    model.check_unlocked(project_id)
    found = database(model, project_id, branch_id, name)
    ops: list[Operation] = []
    if new_name is not None and new_name != name:
        _check_name("database.name", new_name)
        if any(d.name == new_name for d in model.databases_of(branch_id)):
            raise conflict(f'database "{new_name}" already exists')
        ops.append(
            _apply(
                model,
                project_id,
                branch_id,
                {"kind": "rename_database", "branch_id": branch_id, "name": name, "new_name": new_name},
            )
        )
        found.name = new_name
    if owner_name is not None and owner_name != found.owner_name:
        if not any(r.name == owner_name for r in model.roles_of(branch_id)):
            raise bad_request(
                f"database.owner_name: role {owner_name!r} does not exist on branch {branch_id}"
            )
        found.owner_name = owner_name
        ops.append(_apply(model, project_id, branch_id, {"kind": "sync", "branch_id": branch_id}))
    found.updated_at = model.clock.stamp()
    return found, ops


def delete_database(
    model: Model, project_id: str, branch_id: str, name: str
) -> tuple[Database, list[Operation]] | None:
    model.check_unlocked(project_id)
    model.branch(project_id, branch_id)
    found = next((d for d in model.databases_of(branch_id) if d.name == name), None)
    if found is None:
        return None
    model.state.databases.remove(found)
    work = {"kind": "drop_database", "branch_id": branch_id, "name": name}
    return found, [_apply(model, project_id, branch_id, work)]


def connection_target(
    model: Model,
    project_id: str,
    *,
    branch_id: str | None,
    endpoint_id: str | None,
    database_name: str,
    role_name: str,
) -> tuple[Endpoint, Role, str]:
    branch = model.branch(project_id, branch_id) if branch_id else model.default_branch(project_id)
    if endpoint_id:
        endpoint = model.endpoint(project_id, endpoint_id)
    else:
        found = model.endpoints_of(project_id, branch.id)
        if not found:
            raise not_found("read_write endpoint of branch", branch.id)
        endpoint = found[0]
    database(model, project_id, branch.id, database_name)
    return endpoint, role(model, project_id, branch.id, role_name), database_name
