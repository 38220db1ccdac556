"""The Neon API v2 routes, one module per resource: parse the request, call the model, serialize."""

from __future__ import annotations

from collections.abc import Callable

from neon_emulator.engine.executor import Executor
from neon_emulator.model.core import Model

from .branch_restore import BranchRestore
from .branches import Branches
from .databases import Databases
from .endpoints import Endpoints
from .operations import Operations
from .projects import Projects
from .resource import Route
from .roles import Roles
from .schema import Schemas
from .snapshots import Snapshots
from .users import Users

RESOURCES = (
    Projects,
    Branches,
    BranchRestore,
    Snapshots,
    Databases,
    Roles,
    Endpoints,
    Operations,
    Users,
    Schemas,
)


def neon_routes(model: Model, executor: Executor, persist: Callable[[str | None], None]) -> list[Route]:
    return [route for resource in RESOURCES for route in resource(model, executor, persist).routes()]
