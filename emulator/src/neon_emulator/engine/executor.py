"""Runs operations in the background, one project at a time, and owns the endpoints' postgres processes.

Each queued operation carries a `work` description (see model.py). The executor resolves it against the
current model on the event loop thread into a `Job` (plain values), runs the job's blocking part (initdb,
copies, postgres start/stop, SQL) in a worker thread, then records the outcome in the model and persists it.
Jobs are idempotent, so operations interrupted by a crash are simply run again after a restart (`recover`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from neon_emulator.faults import FaultInjector
from neon_emulator.model import operations
from neon_emulator.model.core import Model
from neon_emulator.model.entities import IN_PROGRESS, Operation
from neon_emulator.storage import Storage, StorageError
from neon_emulator.storage.postmaster_pid import live_postmaster

from .postgres import PostgresProcess

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoleSpec:
    name: str
    password: str
    login: bool


@dataclass(frozen=True)
class Job:
    kind: str
    storage: str = ""  # init, remove: cluster name; clone: destination
    src: str = ""
    endpoint_id: str = ""
    port: int = 0
    roles: tuple[RoleSpec, ...] = ()
    databases: tuple[tuple[str, str], ...] = ()  # (name, owner)
    names: tuple[str, ...] = ()  # drop_role/drop_database: (name,); rename_database: (old, new)
    extra: dict[str, Any] = field(default_factory=dict)


class Executor:
    def __init__(
        self,
        model: Model,
        storage: Storage,
        *,
        data_dir: Path,
        socket_dir: Path,
        faults: FaultInjector,
        op_delay: float,
        persist: Callable[[str | None], None],
        durable: Callable[[str | None], Awaitable[None]],
    ) -> None:
        self.model = model
        self.storage = storage
        self.logs = data_dir / "logs"
        self.socket_dir = socket_dir
        self.faults = faults
        self.op_delay = op_delay
        self.persist = persist  # marks the state changed; `durable` waits until it is saved (persistence.py)
        self.durable = durable
        self._processes: dict[str, PostgresProcess] = {}
        self._lock = threading.Lock()
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._busy_threads: set[asyncio.Future[Any]] = set()
        self._closing = False

    # ---- scheduling ----------------------------------------------------------------------------------------
    def kick(self, project_id: str) -> None:
        """Make sure the project's queued operations are being worked on."""
        if self._closing:
            return
        task = self._workers.get(project_id)
        if task is None or task.done():
            self._workers[project_id] = asyncio.get_running_loop().create_task(self._drain(project_id))

    async def _drain(self, project_id: str) -> None:
        while not self._closing and (op := operations.next_operation(self.model, project_id)) is not None:
            await self._run(op)

    async def _run(self, op: Operation) -> None:
        operations.mark_running(self.model, op)
        self.persist(op.project_id)
        delay = self.faults.config.operation_delay
        await asyncio.sleep(self.op_delay if delay is None else delay)
        if op.status != "running":  # the project was deleted meanwhile
            return
        if self.faults.operation_fails(op.action):
            operations.mark_failed(self.model, op, f"injected failure of {op.action}")
            self.persist(op.project_id)
            return
        try:
            job = self._resolve(op)
            if job is not None:
                # The state that asked for this job is saved before its side effects.
                await self.durable(op.project_id)
                await self._in_thread(self._execute, job)
        except (StorageError, psycopg.Error, OSError) as exc:
            log.warning("operation %s (%s) failed: %s", op.id, op.action, exc)
            if op.id in self.model.state.operations:
                operations.mark_failed(self.model, op, str(exc))
        except Exception:  # a bug must not leave the project locked forever
            log.exception("operation %s (%s) failed unexpectedly", op.id, op.action)
            if op.id in self.model.state.operations:
                operations.mark_failed(self.model, op, "internal emulator error (see the emulator log)")
        else:
            if op.id in self.model.state.operations:
                operations.mark_finished(self.model, op)
        self.persist(op.project_id)

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        future = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        self._busy_threads.add(future)
        try:
            return await asyncio.shield(future)
        finally:
            self._busy_threads.discard(future)

    # ---- from operation to job (event loop thread) ------------------------------------------------------
    def _resolve(self, op: Operation) -> Job | None:
        work = op.work
        kind = work.get("kind", "noop")
        state = self.model.state
        if kind == "noop":
            return None
        if kind == "init":
            return Job("init", storage=work["storage"])
        if kind == "clone":
            return Job("clone", storage=work["dst"], src=work["src"])
        if kind == "remove":
            return Job("remove", storage=work["storage"])
        if kind == "stop":
            return Job("stop", endpoint_id=work["endpoint_id"])
        if kind == "start":
            endpoint = state.endpoints.get(work["endpoint_id"])
            if endpoint is None:
                return None  # deleted before it could start
            return Job(
                "start",
                storage=endpoint.branch_id,
                endpoint_id=endpoint.id,
                port=endpoint.port,
                **self._catalog(endpoint.branch_id),
            )
        branch_id = work["branch_id"]
        endpoints = [e for e in state.endpoints.values() if e.branch_id == branch_id]
        if not endpoints:
            return None  # applied at the next start of a compute on this branch
        endpoint_id = endpoints[0].id
        if kind == "sync":
            return Job("sync", endpoint_id=endpoint_id, **self._catalog(branch_id))
        if kind in ("drop_role", "drop_database"):
            return Job(kind, endpoint_id=endpoint_id, names=(work["name"],))
        if kind == "rename_database":
            return Job(kind, endpoint_id=endpoint_id, names=(work["name"], work["new_name"]))
        raise StorageError(f"unknown work kind {kind!r}")

    def _catalog(self, branch_id: str) -> dict[str, Any]:
        roles = tuple(RoleSpec(r.name, r.password, r.login) for r in self.model.roles_of(branch_id))
        dbs = tuple((d.name, d.owner_name) for d in self.model.databases_of(branch_id))
        return {"roles": roles, "databases": dbs}

    # ---- jobs (worker thread) ------------------------------------------------------------------------------
    def _execute(self, job: Job) -> None:
        if job.kind == "init":
            if self.storage.exists(job.storage):  # a retry after a crash: nothing in it can matter yet
                self._stop_any(job.storage)
                self.storage.remove(job.storage)
            self.storage.init_cluster(job.storage)
        elif job.kind == "clone":
            if self.storage.exists(job.storage):
                self._stop_any(job.storage)
                self.storage.remove(job.storage)
            self.storage.clone(job.src, job.storage, running=self._serving(job.src))
        elif job.kind == "remove":
            self._stop_any(job.storage)
            self.storage.remove(job.storage)
        elif job.kind == "stop":
            self.stop_endpoint(job.endpoint_id)
        elif job.kind == "start":
            process = self._start(job.endpoint_id, job.storage, job.port)
            _sync_catalog(process, job.roles, job.databases)
        else:
            found = self._process(job.endpoint_id)
            if found is None:
                return
            process = found
            if job.kind == "sync":
                _sync_catalog(process, job.roles, job.databases)
            elif job.kind == "drop_database":
                with process.admin_connect() as conn:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(job.names[0])
                        )
                    )
            elif job.kind == "rename_database":
                with process.admin_connect() as conn:
                    old, new = (sql.Identifier(n) for n in job.names)
                    conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                        (job.names[0],),
                    )
                    conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(old, new))
            elif job.kind == "drop_role":
                _drop_role(process, job.names[0])

    def _process(self, endpoint_id: str) -> PostgresProcess | None:
        with self._lock:
            return self._processes.get(endpoint_id)

    def _serving(self, storage_name: str) -> PostgresProcess | None:
        data_dir = self.storage.data_dir(storage_name)
        with self._lock:
            for process in self._processes.values():
                if process.data_dir == data_dir and process.running:
                    return process
        return None

    def _start(self, endpoint_id: str, storage_name: str, port: int) -> PostgresProcess:
        data_dir = self.storage.data_dir(storage_name)
        current = self._process(endpoint_id)
        if current is not None and (current.data_dir != data_dir or current.port != port):
            self.stop_endpoint(endpoint_id)
            current = None
        process = current or self._new_process(endpoint_id, storage_name, port)
        process.start()
        return process

    def _new_process(self, endpoint_id: str, storage_name: str, port: int) -> PostgresProcess:
        if not self.storage.exists(storage_name):
            raise StorageError(f"branch {storage_name} has no data directory")
        process = PostgresProcess(
            self.storage.data_dir(storage_name),
            port,
            socket_dir=self.socket_dir,
            log_path=self.logs / f"{endpoint_id}.log",
        )
        with self._lock:
            self._processes[endpoint_id] = process
        return process

    def stop_endpoint(self, endpoint_id: str) -> None:
        with self._lock:
            process = self._processes.pop(endpoint_id, None)
        if process is not None:
            process.stop()

    def _stop_any(self, storage_name: str) -> None:
        """Stop whatever server runs on a cluster (ours or one left behind by a killed emulator)."""
        data_dir = self.storage.data_dir(storage_name)
        with self._lock:
            owners = [eid for eid, p in self._processes.items() if p.data_dir == data_dir]
        for endpoint_id in owners:
            self.stop_endpoint(endpoint_id)
        if data_dir.exists():
            PostgresProcess(data_dir, 1, socket_dir=self.socket_dir, log_path=self.logs / "stale.log").stop()

    # ---- start-up and shutdown ----------------------------------------------------------------------------
    async def recover(self) -> None:
        """After a (possibly unclean) restart: stop leftover servers, start active computes, resume ops."""
        state = self.model.state
        for op in state.operations.values():
            if op.status in IN_PROGRESS:
                op.status = "scheduling"
        pending = {o.endpoint_id for o in state.operations.values() if o.status in IN_PROGRESS}
        to_start = [
            e
            for e in state.endpoints.values()
            if e.id not in pending and e.current_state == "active" and self.storage.exists(e.branch_id)
        ]
        # Servers left by a killed emulator listen on its (per-process) socket directory: stop them all and
        # start afresh rather than adopt them.
        names = list(state.branches) + list(state.snapshots) + list(state.pending_removals)
        await self._in_thread(self._stop_stale, names)
        for endpoint in to_start:
            try:
                job = Job(
                    "start",
                    storage=endpoint.branch_id,
                    endpoint_id=endpoint.id,
                    port=endpoint.port,
                    **self._catalog(endpoint.branch_id),
                )
                await self._in_thread(self._execute, job)
            except (StorageError, psycopg.Error, OSError) as exc:
                log.error("endpoint %s could not be started again: %s", endpoint.id, exc)
                endpoint.current_state = "idle"
        if state.pending_removals:
            await self._in_thread(self._remove_all, list(state.pending_removals))
            state.pending_removals.clear()
        self.persist(None)
        for project_id in operations.projects_with_pending_operations(self.model):
            self.kick(project_id)

    def _stop_stale(self, names: list[str]) -> None:
        for name in names:
            if live_postmaster(self.storage.data_dir(name)) is not None:
                log.info("stopping a server left running on %s", name)
                self._stop_any(name)

    def _remove_all(self, names: list[str]) -> None:
        for name in names:
            try:
                self._stop_any(name)
                self.storage.remove(name)
            except StorageError as exc:
                log.error("could not remove %s: %s", name, exc)

    async def discard(self, endpoint_ids: list[str], storage_names: list[str]) -> None:
        """Background clean-up of a deleted project."""
        await self.durable(None)  # the promise to remove (pending_removals) is saved before anything goes
        for endpoint_id in endpoint_ids:
            await self._in_thread(self.stop_endpoint, endpoint_id)
        await self._in_thread(self._remove_all, storage_names)
        removed = set(storage_names)
        self.model.state.pending_removals = [n for n in self.model.state.pending_removals if n not in removed]
        self.persist(None)

    async def close(self, grace: float = 60.0) -> None:
        """Stop scheduling, let in-flight jobs finish (bounded), then stop every server this emulator runs."""
        self._closing = True
        for task in self._workers.values():
            task.cancel()
        if self._busy_threads:
            await asyncio.wait(list(self._busy_threads), timeout=grace)
        with self._lock:
            endpoint_ids = list(self._processes)
        for endpoint_id in endpoint_ids:
            try:
                await asyncio.to_thread(self.stop_endpoint, endpoint_id)
            except StorageError as exc:
                log.error("could not stop the server of %s: %s", endpoint_id, exc)

    def running_endpoints(self) -> dict[str, int]:
        with self._lock:
            return {eid: p.port for eid, p in self._processes.items() if p.running}


def _sync_catalog(
    process: PostgresProcess, roles: tuple[RoleSpec, ...], databases: tuple[tuple[str, str], ...]
) -> None:
    """Create the model's roles and databases that the cluster lacks; (re)set the roles' passwords."""
    with process.admin_connect() as conn:
        existing = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles")}
        for role in roles:
            verb = "ALTER" if role.name in existing else "CREATE"
            login = sql.SQL("LOGIN" if role.login else "NOLOGIN")
            extra = sql.SQL("" if verb == "ALTER" else " CREATEDB CREATEROLE")
            conn.execute(
                sql.SQL("{} ROLE {} WITH {} PASSWORD {}{}").format(
                    sql.SQL(verb), sql.Identifier(role.name), login, sql.Literal(role.password), extra
                )
            )
        owners = dict(
            conn.execute("SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba")
        )
        for name, owner in databases:
            if name not in owners:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner))
                )
            elif owners[name] != owner:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                        sql.Identifier(name), sql.Identifier(owner)
                    )
                )


def _drop_role(process: PostgresProcess, name: str) -> None:
    with process.admin_connect() as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is None:
            return
        dbs = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datallowconn")]
    for db in dbs:
        with process.admin_connect(db) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
    with process.admin_connect() as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
