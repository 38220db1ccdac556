"""Runs operations in the background, one project at a time.

Each queued operation carries a `work` description (its kinds: jobs.py). The executor resolves it against
the current model on the event loop thread into a typed job (jobs.py), runs the job's blocking part (initdb,
copies, postgres start/stop, SQL) in a worker thread, then records the outcome in the model and persists it.
Jobs are idempotent, so operations interrupted by a crash are simply run again after a restart (`recover`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, assert_never

import psycopg

from neon_emulator.faults import FaultInjector
from neon_emulator.model import operations, snapshots
from neon_emulator.model.core import Model
from neon_emulator.model.entities import IN_PROGRESS, Operation
from neon_emulator.storage import CopyTiming, Storage, StorageError

from . import catalog
from .jobs import (
    CloneCluster,
    DropDatabase,
    DropRole,
    InitCluster,
    Job,
    MeasureSnapshot,
    RemoveCluster,
    RenameDatabase,
    StartServer,
    StopServer,
    SyncCatalog,
    resolve,
    start_server,
)
from .servers import Servers
from .tls import LocalCA

log = logging.getLogger(__name__)

T = TypeVar("T")
READ_THREADS = 2  # scratch servers and directory walks at once, beside the operations' jobs


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
        self.tls = LocalCA(data_dir / "tls")
        self.servers = Servers(storage, logs=data_dir / "logs", socket_dir=socket_dir, tls=self.tls)
        self.faults = faults
        self.op_delay = op_delay
        self.persist = persist  # marks the state changed; `durable` waits until it is saved (persistence.py)
        self.durable = durable
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._busy_threads: set[asyncio.Future[Any]] = set()
        self._captures: dict[str, asyncio.Future[None]] = {}  # snapshot storage name -> its copy, running
        self._background: set[asyncio.Future[None]] = set()
        # Reads no operation waits for (a snapshot's schema on a scratch server, its sizes) get threads of
        # their own: on asyncio's shared pool a burst of them made every snapshot's job queue behind them.
        self._reads = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="emulator-read")
        self._closing = False

    # ---- scheduling ----------------------------------------------------------------------------------------
    def kick(self, project_id: str) -> None:
        """Make sure the project's queued operations are being worked on."""
        if self._closing:
            return
        task = self._workers.get(project_id)
        if task is None or task.done():
            self._workers[project_id] = asyncio.get_running_loop().create_task(self._drain(project_id))

    async def capture(self, project_id: str, src: str, dst: str) -> CopyTiming:
        """Copy branch `src` to snapshot `dst` now, in the request that asked for the snapshot: the copy is
        the branch's state at a point between the request's arrival and its answer, whatever is written
        meanwhile (btrfs: CHECKPOINT + subvolume snapshot; copy: the backup API's consistent copy). The
        snapshot's `create_branch` operation waits for this before it measures the copy."""
        self.persist(project_id)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._captures[dst] = done
        try:
            await self.durable(project_id)  # the records naming `dst` are saved before it is made
            timing: CopyTiming = await self._in_thread(self._clone_live, src, dst)
            return timing
        except (psycopg.Error, OSError) as exc:
            raise StorageError(f"capturing {src} into {dst} failed: {exc}") from exc
        finally:
            del self._captures[dst]
            done.set_result(None)

    def _clone_live(self, src: str, dst: str) -> CopyTiming:
        self._clear(dst)
        return self.storage.clone(src, dst, running=self.servers.serving(src))

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
        capturing = self._captures.get(op.work.get("dst", ""))
        if op.work.get("kind") == "capture" and capturing is not None:
            await asyncio.shield(capturing)
        if self.faults.operation_fails(op.action):
            self._fail(op, f"injected failure of {op.action}")
            self.persist(op.project_id)
            return
        try:
            job = resolve(op.work, self.model)
            if job is not None:
                # The state that asked for this job is saved before its side effects.
                await self.durable(op.project_id)
                await self._in_thread(self._execute, job)
                if isinstance(job, MeasureSnapshot):
                    self._measure_later(op.project_id, op.work["id"], job)
        except (StorageError, psycopg.Error, OSError) as exc:
            log.warning("operation %s (%s) failed: %s", op.id, op.action, exc)
            if op.id in self.model.state.operations:
                self._fail(op, str(exc))
        except Exception:  # a bug must not leave the project locked forever
            log.exception("operation %s (%s) failed unexpectedly", op.id, op.action)
            if op.id in self.model.state.operations:
                self._fail(op, "internal emulator error (see the emulator log)")
        else:
            if op.id in self.model.state.operations:
                operations.mark_finished(self.model, op)
        self.persist(op.project_id)

    def _fail(self, op: Operation, message: str) -> None:
        operations.mark_failed(self.model, op, message)
        if op.work.get("kind") == "capture":  # a snapshot taken back: its copy goes too
            task = asyncio.ensure_future(self.discard([], [op.work["dst"]]))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _measure_later(self, project_id: str, snapshot_id: str, job: MeasureSnapshot) -> None:
        """A snapshot's `full_size`/`diff_size`, measured after its operation has finished (absent until then,
        as on Neon): walking two data directories would otherwise triple the operation's time."""

        async def measure() -> None:
            try:
                sizes = await self.read(self.storage.sizes, job.storage, job.base)
            except (StorageError, OSError) as exc:  # e.g. deleted meanwhile: it stays unmeasured
                log.info("snapshot %s not measured: %s", snapshot_id, exc)
                return
            snapshots.record_sizes(self.model, snapshot_id, sizes.full, sizes.diff)
            self.persist(project_id)

        task = asyncio.ensure_future(measure())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the read threads: work that answers a request but is no operation's job."""
        return await asyncio.get_running_loop().run_in_executor(self._reads, fn, *args)

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        future = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        self._busy_threads.add(future)
        try:
            return await asyncio.shield(future)
        finally:
            self._busy_threads.discard(future)

    # ---- jobs (worker thread) ------------------------------------------------------------------------------
    def _execute(self, job: Job) -> None:
        match job:
            case InitCluster(storage=name):
                self._clear(name)  # a retry after a crash: nothing in it can matter yet
                self.storage.init_cluster(name)
            case CloneCluster(src=src, dst=dst):
                self._clear(dst)
                self.storage.clone(src, dst, running=self.servers.serving(src))
            case MeasureSnapshot(storage=name, captured=captured):
                if not captured:
                    self._clear(name)
                    raise StorageError(
                        "the emulator stopped before the snapshot's data was captured; take it again"
                    )
            case RemoveCluster(storage=name):
                self.servers.stop_any(name)
                self.storage.remove(name)
            case StopServer(endpoint_id=endpoint_id):
                self.servers.stop(endpoint_id)
            case StartServer():
                process = self.servers.start(job.endpoint_id, job.storage, job.port)
                catalog.sync_catalog(process, job.catalog)
            case SyncCatalog() | DropRole() | DropDatabase() | RenameDatabase():
                self._change_catalog(job)
            case _:
                assert_never(job)

    def _change_catalog(self, job: SyncCatalog | DropRole | DropDatabase | RenameDatabase) -> None:
        process = self.servers.of(job.endpoint_id)
        if process is None:
            return
        match job:
            case SyncCatalog():
                catalog.sync_catalog(process, job.catalog)
            case DropDatabase(name=name):
                catalog.drop_database(process, name)
            case RenameDatabase(old=old, new=new):
                catalog.rename_database(process, old, new)
            case DropRole(name=name):
                catalog.drop_role(process, name)
            case _:
                assert_never(job)

    def _clear(self, storage_name: str) -> None:
        if self.storage.exists(storage_name):
            self.servers.stop_any(storage_name)
            self.storage.remove(storage_name)

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
        names += list(state.deleted_branches)
        await self._in_thread(self.servers.stop_stale, names)
        for endpoint in to_start:
            try:
                await self._in_thread(self._execute, start_server(self.model, endpoint))
            except (StorageError, psycopg.Error, OSError) as exc:
                log.error("endpoint %s could not be started again: %s", endpoint.id, exc)
                endpoint.current_state = "idle"
        if state.pending_removals:
            await self._in_thread(self._remove_all, list(state.pending_removals))
            state.pending_removals.clear()
        self.persist(None)
        for project_id in operations.projects_with_pending_operations(self.model):
            self.kick(project_id)

    def _remove_all(self, names: list[str]) -> None:
        for name in names:
            try:
                self.servers.stop_any(name)
                self.storage.remove(name)
            except StorageError as exc:
                log.error("could not remove %s: %s", name, exc)

    async def discard(self, endpoint_ids: list[str], storage_names: list[str]) -> None:
        """Background clean-up of a deleted project."""
        await self.durable(None)  # the promise to remove (pending_removals) is saved before anything goes
        for endpoint_id in endpoint_ids:
            await self._in_thread(self.servers.stop, endpoint_id)
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
        for endpoint_id in self.servers.endpoint_ids():
            try:
                await asyncio.to_thread(self.servers.stop, endpoint_id)
            except StorageError as exc:
                log.error("could not stop the server of %s: %s", endpoint_id, exc)
        self._reads.shutdown(wait=False, cancel_futures=True)

    def running_endpoints(self) -> dict[str, int]:
        return self.servers.running()
