"""The endpoints' postgres servers: one `PostgresProcess` per endpoint, started on its branch's cluster.

Used from worker threads (jobs) and the event loop (status), hence the lock around the registry.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from neon_emulator.storage import Storage, StorageError
from neon_emulator.storage.postmaster_pid import live_postmaster

from .postgres import PostgresProcess
from .tls import LocalCA

log = logging.getLogger(__name__)


class Servers:
    def __init__(self, storage: Storage, *, logs: Path, socket_dir: Path, tls: LocalCA | None = None) -> None:
        self.storage = storage
        self.tls = tls
        self.logs = logs
        self.socket_dir = socket_dir
        self._processes: dict[str, PostgresProcess] = {}
        self._lock = threading.Lock()

    def of(self, endpoint_id: str) -> PostgresProcess | None:
        with self._lock:
            return self._processes.get(endpoint_id)

    def serving(self, storage_name: str) -> PostgresProcess | None:
        """The running server on a cluster, if one of ours is."""
        data_dir = self.storage.data_dir(storage_name)
        with self._lock:
            for process in self._processes.values():
                if process.data_dir == data_dir and process.running:
                    return process
        return None

    def start(self, endpoint_id: str, storage_name: str, port: int) -> PostgresProcess:
        """The endpoint's server, running on this cluster and port (restarted when either changed)."""
        data_dir = self.storage.data_dir(storage_name)
        current = self.of(endpoint_id)
        if current is not None and (current.data_dir != data_dir or current.port != port):
            self.stop(endpoint_id)
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
            tls=self.tls.server_files(endpoint_id) if self.tls is not None else None,
        )
        with self._lock:
            self._processes[endpoint_id] = process
        return process

    def stop(self, endpoint_id: str) -> None:
        with self._lock:
            process = self._processes.pop(endpoint_id, None)
        if process is not None:
            process.stop()

    def stop_any(self, storage_name: str) -> None:
        """Stop whatever server runs on a cluster (ours or one left behind by a killed emulator)."""
        data_dir = self.storage.data_dir(storage_name)
        with self._lock:
            owners = [eid for eid, p in self._processes.items() if p.data_dir == data_dir]
        for endpoint_id in owners:
            self.stop(endpoint_id)
        if data_dir.exists():
            PostgresProcess(data_dir, 1, socket_dir=self.socket_dir, log_path=self.logs / "stale.log").stop()

    def stop_stale(self, names: list[str]) -> None:
        """Stop the servers left running on these clusters (by an emulator that was killed)."""
        for name in names:
            if live_postmaster(self.storage.data_dir(name)) is not None:
                log.info("stopping a server left running on %s", name)
                self.stop_any(name)

    def endpoint_ids(self) -> list[str]:
        with self._lock:
            return list(self._processes)

    def running(self) -> dict[str, int]:
        with self._lock:
            return {eid: p.port for eid, p in self._processes.items() if p.running}
