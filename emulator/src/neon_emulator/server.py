"""Wiring and lifetime: open storage and state, recover, serve until SIGTERM/SIGINT, stop every server."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import shutil
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from .api.accounts import Accounts
from .api.app import build_app
from .api.recording import ResponseRecorder
from .api.routes import neon_routes
from .api.routes.paths import PREFIX
from .engine.executor import Executor
from .engine.persistence import Persister, StateFile
from .engine.ports import free_port
from .faults import FaultConfig, FaultInjector
from .model.clock import Clock
from .model.core import Model
from .model.expiry import sweep
from .model.ids import IdGenerator
from .model.projects import purge_unrecoverable
from .storage import StorageError, open_storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    data_dir: Path
    storage_driver: str
    seed: int | None
    op_delay: float
    faults: FaultConfig
    api_key: str
    min_free_bytes: int
    more_api_keys: tuple[str, ...] = ()  # each one more account (api/accounts.py)
    record_responses: Path | None = None  # api/recording.py
    project_recovery: float = 7 * 86400.0  # seconds a deleted project stays recoverable (Neon: 7 days)

    def __repr__(self) -> str:  # never the key
        return f"ServeOptions(host={self.host!r}, port={self.port}, data_dir={str(self.data_dir)!r})"


async def expire_forever(
    model: Model, executor: Executor, persist: Callable[[str | None], None], every: float = 1.0
) -> None:
    while True:
        await asyncio.sleep(every)
        touched = sweep(model)
        for project_id in touched:
            persist(project_id)
            executor.kick(project_id)
        storage = purge_unrecoverable(model)  # deleted projects past their recovery window
        if storage:
            await executor.discard([], storage)


def key_hint(key: str) -> str:
    return f"…{key[-4:]} ({len(key)} characters)" if len(key) >= 16 else f"({len(key)} characters)"


async def serve(options: ServeOptions) -> None:
    data_dir = options.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = (data_dir / "emulator.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise StorageError(f"another neon-emulator is serving {data_dir}") from None
    socket_dir = Path(
        tempfile.mkdtemp(prefix="neon-emu-")
    )  # short: unix socket paths are limited to 107 bytes
    try:
        await _serve(options, socket_dir)
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)
        lock.close()


async def _serve(options: ServeOptions, socket_dir: Path) -> None:
    storage = open_storage(
        options.data_dir / "storage", options.storage_driver, min_free_bytes=options.min_free_bytes
    )
    state_file = StateFile(options.data_dir)
    model = Model(state_file.load(), IdGenerator(options.seed), Clock(), free_port)
    model.project_recovery = timedelta(seconds=options.project_recovery)
    persister = Persister(state_file, model.state)
    persist = persister.changed

    faults = FaultInjector(options.faults)
    executor = Executor(
        model,
        storage,
        data_dir=options.data_dir,
        socket_dir=socket_dir,
        faults=faults,
        op_delay=options.op_delay,
        persist=persist,
        durable=persister.durable,
    )
    routes = neon_routes(model, executor, persist)
    accounts = Accounts(options.api_key, options.more_api_keys)
    recorder = ResponseRecorder(options.record_responses) if options.record_responses else None
    app = build_app(
        routes,
        executor,
        faults,
        accounts,
        storage.driver,
        model=model,
        durable=persister.durable,
        recorder=recorder,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(app, access_log_format="%r %s %Tfs")
    await runner.setup()
    ca_file = await asyncio.to_thread(executor.tls.ensure)  # before any endpoint starts
    try:
        await executor.recover()
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else options.port  # the bound one when --port 0
        print(
            f"neon-emulator: serving http://{options.host}:{port}{PREFIX} "
            f"(storage driver: {storage.driver}, data: {options.data_dir}, "
            f"API key: {key_hint(options.api_key)}"
            + (f", {len(options.more_api_keys)} more account(s)" if options.more_api_keys else "")
            + ")",
            flush=True,
        )
        print(
            f"neon-emulator: endpoints speak TLS (sslmode=require); CA for sslmode=verify-full: {ca_file}",
            flush=True,
        )
        expiry = asyncio.create_task(expire_forever(model, executor, persist))
        await stop.wait()
        log.info("stopping")
        expiry.cancel()
    finally:
        await runner.cleanup()
        await executor.close()
        persist()
        await persister.durable()
        if recorder is not None:
            recorder.close()
