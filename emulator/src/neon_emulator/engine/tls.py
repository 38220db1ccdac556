"""TLS for the endpoints, as on Neon (which accepts only TLS): a local certificate authority the emulator
makes once and keeps next to its state (DIR/tls/ca.crt, its key 0600), and one server certificate per
endpoint signed by it for 127.0.0.1 and localhost (DIR/tls/endpoints/ID.crt), made when the endpoint first
starts. Clients connect with `sslmode=require` (what connection URIs carry), or `sslmode=verify-full` with
`sslrootcert=DIR/tls/ca.crt`. As on Neon, TCP without TLS is refused: the servers use DIR/tls/pg_hba.conf
(`hostssl` only; the unix socket stays trusted for the emulator's own superuser connections). Keys are
P-256 (made in milliseconds); certificates come from openssl(1)."""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from neon_emulator.storage.errors import StorageError
from neon_emulator.storage.server_user import server_user

CA_DAYS = "3650"
SERVER_DAYS = "825"
SUBJECT_ALT_NAMES = "IP:127.0.0.1,DNS:localhost"


HBA = """\
# Written by neon-emulator (engine/tls.py): TLS only over TCP, as on Neon; the socket is the emulator's own.
local       all          all                    trust
local       replication  all                    trust
hostssl     all          all    127.0.0.1/32    scram-sha-256
hostssl     replication  all    127.0.0.1/32    scram-sha-256
"""


class TLSError(StorageError):
    """The CA or a server certificate could not be made (openssl missing or failing)."""


@dataclass(frozen=True)
class ServerFiles:
    """What one endpoint's postgres is started with (`-c ssl_cert_file=... ssl_key_file=... hba_file=...`)."""

    cert: Path
    key: Path
    hba: Path


def _openssl(*args: str, cwd: Path) -> None:
    try:
        subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise TLSError("openssl not found: it makes the endpoints' TLS certificates") from None
    except subprocess.CalledProcessError as exc:
        raise TLSError(f"openssl {args[0]} failed: {exc.stderr.strip()}") from None


class LocalCA:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()  # endpoints start from several worker threads

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.crt"

    def ensure(self) -> Path:
        """The CA certificate, made on first use; returns its path."""
        with self._lock:
            if not self.ca_file.exists():
                self._make_ca()
        return self.ca_file

    def server_files(self, endpoint_id: str) -> ServerFiles:
        """An endpoint's certificate and key (made on first use, readable by the server user) and the HBA."""
        self.ensure()
        out = self.directory / "endpoints"
        cert, key = out / f"{endpoint_id}.crt", out / f"{endpoint_id}.key"
        hba = self.directory / "pg_hba.conf"
        with self._lock:
            if not (cert.exists() and key.exists()):
                self._make_server(endpoint_id, cert, key)
            if not hba.exists() or hba.read_text() != HBA:
                hba.write_text(HBA)
                hba.chmod(0o644)
        return ServerFiles(cert, key, hba)

    def _make_ca(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o755)  # the server user reads its certificate below
        tmp = self.directory / "ca.crt.tmp"
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key", cwd=self.directory)
        (self.directory / "ca.key").chmod(0o600)
        _openssl(
            "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", CA_DAYS, "-out", tmp.name,
            "-subj", "/CN=neon-emulator local CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=self.directory,
        )  # fmt: skip
        tmp.chmod(0o644)
        tmp.rename(self.ca_file)  # last: a crash before leaves no half-made CA

    def _make_server(self, endpoint_id: str, cert: Path, key: Path) -> None:
        out = cert.parent
        out.mkdir(parents=True, exist_ok=True)
        out.chmod(0o755)
        csr, ext = out / f"{endpoint_id}.csr", out / f"{endpoint_id}.ext"
        ext.write_text(
            f"subjectAltName={SUBJECT_ALT_NAMES}\nextendedKeyUsage=serverAuth\n"
            "keyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n"
        )
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key.name, cwd=out)
        key.chmod(0o600)  # postgres refuses a key others can read
        _openssl("req", "-new", "-key", key.name, "-out", csr.name, "-subj", f"/CN={endpoint_id}", cwd=out)
        ca = self.directory
        _openssl(
            "x509", "-req", "-in", csr.name, "-CA", str(ca / "ca.crt"), "-CAkey", str(ca / "ca.key"),
            "-CAcreateserial", "-days", SERVER_DAYS, "-sha256", "-extfile", ext.name, "-out", cert.name,
            cwd=out,
        )  # fmt: skip
        csr.unlink()
        ext.unlink()
        user = server_user()
        user.own(key)
        user.own(cert)
