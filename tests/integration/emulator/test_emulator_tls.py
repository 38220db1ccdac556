"""TLS on the endpoints, as on Neon: connection URIs carry `sslmode=require&channel_binding=require`, the
local CA the emulator made next to its state (its path printed by `serve`) verifies the servers'
certificates (`sslmode=verify-full`), another CA does not, and TCP without TLS is refused."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from devenv.emulator import EmulatorServer

pytestmark = [pytest.mark.emulator, pytest.mark.postgres]


def test_endpoints_speak_tls_verified_by_the_emulators_ca(
    emulator: EmulatorServer, api: httpx.Client, project: dict[str, Any]
) -> None:
    ca_file = emulator.data_dir / "tls" / "ca.crt"
    assert f"CA for sslmode=verify-full: {ca_file}" in emulator.log_path.read_text()
    with emulator.admin() as admin:
        assert admin.get("/status").json()["tls_ca_file"] == str(ca_file)
    uri = project["connection_uris"][0]["connection_uri"]
    assert uri.endswith("?sslmode=require&channel_binding=require")
    pid = project["project"]["id"]
    params = {"database_name": "neondb", "role_name": "neondb_owner"}
    assert api.get(f"/projects/{pid}/connection_uri", params=params).json()["uri"] == uri

    with psycopg.connect(uri, connect_timeout=10) as conn:
        ssl = conn.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert ssl is not None and ssl[0] is True and ssl[1].startswith("TLSv1.")
    verified = uri.replace("sslmode=require", f"sslmode=verify-full&sslrootcert={ca_file}")
    with psycopg.connect(verified, connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)

    other_ca = "/etc/ssl/certs/ca-certificates.crt"
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(uri.replace("sslmode=require", f"sslmode=verify-full&sslrootcert={other_ca}"))
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(uri.replace("sslmode=require&channel_binding=require", "sslmode=disable"))
