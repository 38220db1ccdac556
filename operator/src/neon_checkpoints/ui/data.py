"""What the page reads: the meta database (read-only, as `neon-checkpoints timeline` does) and the live
resources through the user's own Kubernetes client. Failures become a `Problem` the page shows as such."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import psycopg

from neon_checkpoints.core.secrets import redact_dsn
from neon_checkpoints.meta import queries
from neon_checkpoints.meta.records import CheckpointRow, RestoreRow
from neon_checkpoints.names import CHECKPOINT_RESTORES, CHECKPOINTS
from neon_checkpoints.runtime.kube import Kube, KubeError
from neon_checkpoints.ui import sources
from neon_checkpoints.ui.datadiff import Side
from neon_checkpoints.ui.model import AppView, apps, build_app

CONNECT_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Problem:
    """Something the page could not read; `forbidden` when the API said 403 to the user's credentials."""

    message: str
    forbidden: bool = False


def kube_problem(exc: KubeError, namespace: str, verb: str, plural: str) -> Problem:
    if exc.status == 403:
        return Problem(
            f"Forbidden: your Kubernetes user may not {verb} {plural} in namespace {namespace}", True
        )
    return Problem(
        f"the Kubernetes API failed to {verb} {plural} in namespace {namespace} ({exc.status or 'no answer'})"
    )


def meta_problem(exc: psycopg.Error, dsn: str) -> Problem:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    password = urlsplit(dsn).password
    if password:
        reason = reason.replace(password, "****")
    return Problem(f"cannot read the meta database at {redact_dsn(dsn)}: {reason}")


@dataclass(frozen=True)
class Reading:
    checkpoint_rows: list[CheckpointRow] = field(default_factory=list)
    restore_rows: list[RestoreRow] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    restores: list[dict[str, Any]] = field(default_factory=list)
    project_ids: list[str] = field(default_factory=list)
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Details:
    """What a page shows beside the picture: each checkpoint's schema, and the diff of the selected pair."""

    schemas: Mapping[str, sources.Schema]
    diff: sources.SchemaDiff | None


class Reader:
    def __init__(self, kube: Kube, meta_dsn: str, namespace: str) -> None:
        self.kube, self.meta_dsn, self.namespace = kube, meta_dsn, namespace

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self.meta_dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True
        )

    async def _resources(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Problem]]:
        problems: list[Problem] = []
        found: dict[str, list[dict[str, Any]]] = {}
        for plural in (CHECKPOINTS, CHECKPOINT_RESTORES):
            try:
                found[plural] = await self.kube.list(plural, self.namespace)
            except KubeError as exc:
                found[plural] = []
                problems.append(kube_problem(exc, self.namespace, "list", plural))
        return found[CHECKPOINTS], found[CHECKPOINT_RESTORES], problems

    async def read(self, project_id: str | None) -> Reading:
        """Everything of one app (or, with None, which apps there are)."""
        checkpoints, restores, problems = await self._resources()
        rows: list[CheckpointRow] = []
        restore_rows: list[RestoreRow] = []
        project_ids: list[str] = []
        try:
            async with await self._connect() as conn:
                if await queries.has_timeline(conn):
                    project_ids = await queries.list_project_ids(conn, self.namespace)
                    if project_id is not None:
                        rows = await queries.list_checkpoints(conn, project_id)
                        restore_rows = await queries.list_restores(conn, project_id)
        except psycopg.Error as exc:
            problems.append(meta_problem(exc, self.meta_dsn))
        known = sorted({*project_ids, *apps([], checkpoints)})
        return Reading(rows, restore_rows, checkpoints, restores, known, tuple(problems))

    async def app(self, project_id: str) -> tuple[AppView, Reading]:
        reading = await self.read(project_id)
        view = build_app(
            project_id,
            self.namespace,
            reading.checkpoint_rows,
            reading.restore_rows,
            reading.checkpoints,
            reading.restores,
        )
        return view, reading

    async def details(self, view: AppView, pair: tuple[str, str] | None) -> Details:
        """Schemas through the seam (ui/sources.py); nothing here knows where schemas are stored."""
        schemas: dict[str, sources.Schema] = {}
        diff: sources.SchemaDiff | None = None
        try:
            async with await self._connect() as conn:
                for c in view.checkpoints:
                    if c.meta_id is None:
                        schemas[c.name] = sources.Schema(False, "not recorded in the meta database yet")
                    else:
                        schemas[c.name] = await sources.checkpoint_schema(conn, c.meta_id)
                if pair:
                    a, b = view.checkpoint(pair[0]), view.checkpoint(pair[1])
                    if a and b and a.meta_id is not None and b.meta_id is not None:
                        diff = await sources.schema_diff(conn, a.meta_id, b.meta_id)
                    else:
                        diff = sources.SchemaDiff(False, "not recorded in the meta database yet")
        except psycopg.Error as exc:
            reason = meta_problem(exc, self.meta_dsn).message
            schemas = {c.name: sources.Schema(False, reason) for c in view.checkpoints}
            diff = sources.SchemaDiff(False, reason) if pair else None
        return Details(schemas, diff)

    async def data_sides(self, view: AppView, a: str, b: str) -> tuple[Side, Side] | str:
        """The two checkpoints a data diff compares, or why it cannot."""
        sides: list[Side] = []
        for label, name in (("A", a), ("B", b)):
            node = view.checkpoint(name)
            if node is None:
                return f"{label} ({name}) is not a checkpoint of this app"
            if node.meta_id is None:
                return f"{label} ({name}) is not recorded in the meta database yet"
            try:
                async with await self._connect() as conn:
                    side = await sources.data_side(conn, node.meta_id)
            except psycopg.Error as exc:
                return meta_problem(exc, self.meta_dsn).message
            if isinstance(side, str):
                return f"{label} ({name}) cannot be compared: {side}"
            sides.append(side)
        return sides[0], sides[1]

    async def restore(self, name: str) -> tuple[dict[str, Any] | None, Problem | None]:
        try:
            return await self.kube.get(CHECKPOINT_RESTORES, self.namespace, name), None
        except KubeError as exc:
            return None, kube_problem(exc, self.namespace, "get", CHECKPOINT_RESTORES)
