"""The one picker of free TCP ports on loopback, for the endpoints' servers (and hack's local servers)."""

from __future__ import annotations

import random
import socket
from pathlib import Path


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1, below the kernel's ephemeral range: binding port 0 would pick
    from that range, where any outgoing connection may take the port before our server binds it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randrange(10000, max(10001, low))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        fallback: int = s.getsockname()[1]
        return fallback
