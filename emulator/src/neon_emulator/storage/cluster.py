"""Creating a PostgreSQL cluster (initdb) configured for many small servers on one machine."""

from __future__ import annotations

import subprocess
from pathlib import Path

from neon_emulator.storage.errors import NoSpaceError, StorageError, is_no_space
from neon_emulator.storage.server_user import pg_bin_dir, server_user

SUPERUSER = "cloud_admin"

# Appended to postgresql.conf. The port and socket directory are given per start (postgres -p/-k).
SERVER_SETTINGS = """
# neon-emulator: many small servers per machine
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
shared_buffers = 16MB
max_connections = 30
max_wal_senders = 2
max_replication_slots = 4
min_wal_size = 32MB
max_wal_size = 512MB
dynamic_shared_memory_type = posix
logging_collector = off
log_line_prefix = '%m [%p] '
"""


def initdb(data_dir: Path, timeout: float = 120.0) -> None:
    """initdb into `data_dir` (absent or empty; created if absent): superuser cloud_admin, trust on the unix
    socket only, scram-sha-256 over TCP."""
    user = server_user()
    data_dir.mkdir(mode=0o700, exist_ok=True)
    user.own(data_dir)
    user.make_reachable(data_dir)
    argv = [
        str(pg_bin_dir() / "initdb"),
        "-D",
        str(data_dir),
        "-U",
        SUPERUSER,
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    ]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **user.popen_kwargs())
    except subprocess.TimeoutExpired as exc:
        raise StorageError(f"initdb of {data_dir} did not finish in {timeout:.0f} s") from exc
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-3:]
        cls = NoSpaceError if is_no_space(result.stderr) else StorageError
        raise cls(f"initdb of {data_dir} failed: {' | '.join(detail)}")
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write(SERVER_SETTINGS)
