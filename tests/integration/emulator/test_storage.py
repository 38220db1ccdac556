"""The emulator's storage layer on real PostgreSQL, for both drivers: the copy driver on the test machine's
filesystem and the btrfs driver on a loop-mounted btrfs image."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from devenv.loopfs import loop_mount_unavailable, loop_mounted
from neon_emulator.engine.ports import free_port
from neon_emulator.engine.postgres import PostgresProcess
from neon_emulator.storage import Storage, StorageError, open_storage
from neon_emulator.storage.filesystem import fs_type
from neon_emulator.storage.server_user import pg_bin_dir

pytestmark = pytest.mark.postgres


@contextlib.contextmanager
def loop_mount(size: str, fstype: str) -> Iterator[Path]:
    """A fresh `fstype` image of `size` mounted on a short path; always unmounted and detached after."""
    reason = loop_mount_unavailable(fstype)
    if reason:
        pytest.skip(reason)
    workdir = Path(tempfile.mkdtemp(prefix="nes-", dir="/tmp"))
    try:
        with loop_mounted(workdir, size, fstype) as mnt:
            yield mnt
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Servers:
    """Every server a test starts, stopped at teardown even when the test fails."""

    socket_dir: Path
    started: list[PostgresProcess] = field(default_factory=list)

    def start(self, storage: Storage, name: str) -> PostgresProcess:
        proc = PostgresProcess(
            storage.data_dir(name),
            free_port(),
            socket_dir=self.socket_dir,
            log_path=storage.root.parent / "logs" / f"{name}.log",
        )
        self.started.append(proc)
        proc.start()
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            proc.stop()


@pytest.fixture(scope="module", params=["copy", "btrfs"])
def storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    try:
        pg_bin_dir()
    except StorageError as exc:
        pytest.skip(str(exc))
    if request.param == "copy":
        workdir = Path(tempfile.mkdtemp(prefix="nes-", dir="/tmp"))
        try:
            yield open_storage(workdir / "data", "copy")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return
    request.applymarker(pytest.mark.btrfs)
    with loop_mount("2G", "btrfs") as mnt:
        yield open_storage(mnt / "data")


@pytest.fixture
def servers() -> Iterator[Servers]:
    socket_dir = Path(tempfile.mkdtemp(prefix="nes-sock-", dir="/tmp"))
    s = Servers(socket_dir)
    try:
        yield s
    finally:
        s.stop_all()
        shutil.rmtree(socket_dir, ignore_errors=True)


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns()}"


def test_auto_driver_follows_the_filesystem(storage: Storage) -> None:
    expected = "btrfs" if fs_type(storage.root) == "btrfs" else "copy"
    assert open_storage(storage.root).driver == expected == storage.driver


def test_new_cluster_trusts_the_socket_and_wants_a_password_over_tcp(
    storage: Storage, servers: Servers
) -> None:
    name = unique("br")
    data_dir = storage.init_cluster(name)
    assert storage.exists(name) and data_dir == storage.data_dir(name)
    server = servers.start(storage, name)
    with server.admin_connect() as conn:
        row = conn.execute("SELECT current_user, current_setting('listen_addresses')").fetchone()
        assert row == ("cloud_admin", "127.0.0.1")
        conn.execute("CREATE ROLE app LOGIN PASSWORD 'app-secret'")
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(host="127.0.0.1", port=server.port, user="app", dbname="postgres", connect_timeout=5)
    uri = f"postgresql://app:app-secret@127.0.0.1:{server.port}/postgres"
    with psycopg.connect(uri, connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("app",)


def test_start_and_stop_are_idempotent(storage: Storage, servers: Servers) -> None:
    name = unique("br")
    storage.init_cluster(name)
    server = servers.start(storage, name)
    server.start()
    assert server.running
    server.stop()
    server.stop()
    assert not server.running
    assert not (storage.data_dir(name) / "postmaster.pid").exists()


def test_a_killed_server_restarts_despite_its_stale_pid_file(storage: Storage, servers: Servers) -> None:
    name = unique("br")
    storage.init_cluster(name)
    server = servers.start(storage, name)
    with server.admin_connect() as conn:
        conn.execute("CREATE TABLE t AS SELECT 42 AS answer")
    pid_file = storage.data_dir(name) / "postmaster.pid"
    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while server.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.running and pid_file.exists()
    # A pid reused by an unrelated live process must not block the start either.
    lines = pid_file.read_text().split("\n")
    pid_file.write_text("\n".join([str(os.getpid()), *lines[1:]]))
    server.start()
    with server.admin_connect() as conn:
        assert conn.execute("SELECT answer FROM t").fetchone() == (42,)


def test_a_server_left_running_on_another_port_is_taken_over(storage: Storage, servers: Servers) -> None:
    name = unique("br")
    storage.init_cluster(name)
    orphan = servers.start(storage, name)  # as if started by an emulator that was killed since
    successor = servers.start(storage, name)
    assert successor.port != orphan.port
    with successor.admin_connect() as conn:
        assert conn.execute("SELECT current_setting('port')::int").fetchone() == (successor.port,)


def test_clone_of_a_stopped_cluster_starts_with_its_data(storage: Storage, servers: Servers) -> None:
    src, dst = unique("br"), unique("snap")
    storage.init_cluster(src)
    server = servers.start(storage, src)
    with server.admin_connect() as conn:
        conn.execute("CREATE TABLE contacts (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO contacts VALUES (1, 'Ada'), (2, 'Grace')")
    server.stop()
    timing = storage.clone(src, dst)
    assert timing.checkpoint_seconds == 0.0 and timing.copy_seconds > 0
    assert not (storage.data_dir(dst) / "postmaster.pid").exists()
    clone = servers.start(storage, dst)
    with clone.admin_connect() as conn:
        rows = conn.execute("SELECT id, name FROM contacts ORDER BY id").fetchall()
    assert rows == [(1, "Ada"), (2, "Grace")]


class Writer(threading.Thread):
    """Commits one row per transaction (ids 1, 2, 3, ...) and a counter in the same transaction."""

    def __init__(self, server: PostgresProcess) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.committed = 0
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.server.admin_connect() as conn:
                while not self.stop_event.is_set():
                    next_id = self.committed + 1
                    with conn.transaction():
                        conn.execute("INSERT INTO events VALUES (%s, repeat('x', 2000))", [next_id])
                        conn.execute("UPDATE counter SET n = %s", [next_id])
                    self.committed = next_id
        except BaseException as exc:
            self.error = exc


def test_clone_of_a_running_server_under_writes_is_consistent(storage: Storage, servers: Servers) -> None:
    src, dst = unique("br"), unique("snap")
    storage.init_cluster(src)
    server = servers.start(storage, src)
    with server.admin_connect() as conn:
        conn.execute(
            "CREATE TABLE bulk AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 200000) g"
        )
        conn.execute("CREATE TABLE events (id bigint PRIMARY KEY, payload text)")
        conn.execute("CREATE TABLE counter (n bigint)")
        conn.execute("INSERT INTO counter VALUES (0)")
    writer = Writer(server)
    writer.start()
    try:
        while writer.committed < 50 and writer.error is None:
            time.sleep(0.01)
        committed_before = writer.committed
        timing = storage.clone(src, dst, running=server)
        committed_after = writer.committed
        time.sleep(0.1)
    finally:
        writer.stop_event.set()
        writer.join(timeout=30)
    assert writer.error is None
    assert timing.checkpoint_seconds > 0
    assert not (storage.data_dir(dst) / "backup_label.old").exists()

    clone = servers.start(storage, dst)  # crash recovery (btrfs) or backup recovery (copy)
    with clone.admin_connect() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM events ORDER BY id").fetchall()]
        counter = conn.execute("SELECT n FROM counter").fetchone()
        bulk = conn.execute("SELECT count(*), count(DISTINCT h) FROM bulk").fetchone()
    # Every row committed before the clone is there, nothing half-done is, and none from after it.
    assert ids == list(range(1, len(ids) + 1))
    assert counter == (len(ids),)
    assert committed_before <= len(ids) <= committed_after + 1
    assert bulk == (200000, 200000)
    # The source kept running and kept its own later writes.
    with server.admin_connect() as conn:
        source_count = conn.execute("SELECT count(*) FROM events").fetchone()
    assert source_count == (writer.committed,)


def test_clone_refuses_an_existing_name_and_leaves_both_intact(storage: Storage, servers: Servers) -> None:
    src, other = unique("br"), unique("br")
    storage.init_cluster(src)
    storage.init_cluster(other)
    with pytest.raises(StorageError, match="already exists"):
        storage.clone(src, other)
    with pytest.raises(StorageError, match="no cluster"):
        storage.clone(unique("missing"), unique("snap"))
    with pytest.raises(StorageError, match="invalid cluster name"):
        storage.clone(src, "../escape")
    for name in (src, other):
        server = servers.start(storage, name)
        with server.admin_connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_clone_of_a_running_server_not_passed_in_is_refused(storage: Storage, servers: Servers) -> None:
    src, dst = unique("br"), unique("snap")
    storage.init_cluster(src)
    servers.start(storage, src)
    with pytest.raises(StorageError, match="running"):
        storage.clone(src, dst)
    assert not storage.data_dir(dst).exists()


def test_remove_deletes_a_stopped_cluster_and_refuses_a_running_one(
    storage: Storage, servers: Servers
) -> None:
    name = unique("br")
    storage.init_cluster(name)
    server = servers.start(storage, name)
    with pytest.raises(StorageError, match="still running"):
        storage.remove(name)
    assert storage.exists(name)
    server.stop()
    storage.remove(name)
    assert not storage.exists(name) and not storage.data_dir(name).exists()
    storage.remove(name)  # removing what is gone is a no-op
