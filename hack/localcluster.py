"""Throwaway local servers for tests and the demo: etcd + kube-apiserver (+ kube-controller-manager) with TLS
and a client-certificate kubeconfig, a PostgreSQL cluster, and loop-mounted filesystem images (btrfs gives
the emulator copy-on-write snapshots, as Neon's storage has).

Every process is started in its own session with its pid recorded in the state directory, so `stop()` (or
`python -m hack.localcluster down DIR`) ends them even from another process, and nothing is left running.

    python -m hack.localcluster up DIR      # start etcd, kube-apiserver, kube-controller-manager; print env
    python -m hack.localcluster down DIR    # stop whatever `up` started in DIR
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hack import toolpaths
from neon_emulator.engine.ports import free_port as free_port  # one port picker for every local server


class LocalClusterError(RuntimeError):
    """A local server failed to start; the message says which and where its log is."""


def terminate(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM and wait; SIGKILL if it does not exit in time. Idempotent."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


LOOP_SCRIPT = Path(__file__).resolve().parent / "btrfs-loop.sh"


def loop_mount_unavailable(fstype: str = "btrfs") -> str | None:
    """Why a `fstype` image cannot be loop-mounted here, or None if it can."""
    if os.geteuid() != 0:
        return "loop-mounting a filesystem image needs root"
    if shutil.which(f"mkfs.{fstype}") is None:
        return f"mkfs.{fstype} is not installed (apt-get install btrfs-progs / e2fsprogs)"
    return None


@contextlib.contextmanager
def loop_mounted(workdir: Path, size: str, fstype: str = "btrfs") -> Iterator[Path]:
    """A fresh sparse `fstype` image of `size` in `workdir`, mounted on `workdir/mnt`; always unmounted,
    detached and removed after. Check `loop_mount_unavailable` first."""
    image, mnt = workdir / "fs.img", workdir / "mnt"
    try:
        subprocess.run(
            [str(LOOP_SCRIPT), "up", str(image), str(mnt), size, fstype],
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )
        yield mnt
    finally:
        subprocess.run([str(LOOP_SCRIPT), "down", str(mnt), str(image)], check=False, timeout=120)


@dataclass
class ProcessGroup:
    """Processes started detached, with pids persisted in `state_dir/pids.json`."""

    state_dir: Path
    pids: dict[str, int] = field(default_factory=dict)
    # Our own children, kept so they are reaped (a dropped Popen of a live process is a ResourceWarning).
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "pids.json"

    def spawn(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None) -> int:
        log = (self.state_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
        log.close()
        self.children[name] = proc
        self.pids[name] = proc.pid
        self.pid_file.write_text(json.dumps(self.pids))
        return proc.pid

    def alive(self, name: str) -> bool:
        child = self.children.get(name)
        if child is not None:
            return child.poll() is None
        pid = self.pids.get(name)
        if pid is None:
            return False
        try:  # started by another process (e.g. `up` earlier): probe it
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop_all(self, timeout: float = 20.0) -> None:
        if not self.pids and self.pid_file.exists():
            self.pids = json.loads(self.pid_file.read_text())
        # Reverse start order: controller-manager, apiserver, then etcd.
        for name in reversed(list(self.pids)):
            self._stop(name, timeout)
        self.pids.clear()
        self.children.clear()
        self.pid_file.unlink(missing_ok=True)

    def _stop(self, name: str, timeout: float) -> None:
        pid = self.pids[name]
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive(name):
            time.sleep(0.05)
        if self.alive(name):
            with _suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        child = self.children.get(name)
        if child is not None:
            child.wait(timeout)


class _suppress:
    def __init__(self, *exc: type[BaseException]) -> None:
        self.exc = exc

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: type[BaseException] | None, *_: object) -> bool:
        return et is not None and issubclass(et, self.exc)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, text=True)


def make_certificates(d: Path) -> None:
    """A CA, a serving cert for 127.0.0.1, an admin client cert (system:masters) and a service-account key."""
    if (d / "admin.crt").exists():
        return
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "3650",
        "-subj",
        "/CN=neon-checkpoints-local-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=d,
    )
    (d / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    (d / "client.ext").write_text(
        "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    for name, subject, ext in (
        ("apiserver", "/CN=kube-apiserver", "server.ext"),
        ("admin", "/O=system:masters/CN=kubernetes-admin", "client.ext"),
    ):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            subject,
            cwd=d,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "3650",
            "-extfile",
            ext,
            cwd=d,
        )
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=d)


def write_kubeconfig(d: Path, port: int) -> Path:
    path = d / "kubeconfig"
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:{port}
    certificate-authority: {d / "ca.crt"}
users:
- name: admin
  user:
    client-certificate: {d / "admin.crt"}
    client-key: {d / "admin.key"}
contexts:
- name: local
  context: {{cluster: local, user: admin, namespace: default}}
current-context: local
"""
    )
    return path


@dataclass
class KubeControlPlane:
    """etcd + kube-apiserver + kube-controller-manager on loopback, state in `state_dir`."""

    state_dir: Path
    with_controller_manager: bool = True
    api_port: int = 0
    procs: ProcessGroup = field(init=False)

    def __post_init__(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.procs = ProcessGroup(self.state_dir)

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def env(self) -> dict[str, str]:
        """Environment for kubectl/kopf/clients: KUBECONFIG and the built kubectl first on PATH."""
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PATH"] = f"{toolpaths.bin_dir('kube')}{os.pathsep}{env.get('PATH', '')}"
        return env

    @staticmethod
    def missing_tools() -> list[str]:
        return toolpaths.missing(
            ("etcd", "etcd"),
            ("kube", "kube-apiserver"),
            ("kube", "kube-controller-manager"),
            ("kube", "kubectl"),
        )

    def start(self, timeout: float = 120.0) -> None:
        missing = self.missing_tools()
        if missing:
            raise LocalClusterError(f"toolchain not built ({', '.join(missing)}): run `make setup`")
        d = self.state_dir
        make_certificates(d)
        etcd_port, peer_port = free_port(), free_port()
        self.api_port = self.api_port or free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self.procs.spawn(
            "etcd",
            [
                str(toolpaths.tool_path("etcd", "etcd")),
                "--name=local",
                f"--data-dir={d / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=local=http://127.0.0.1:{peer_port}",
                "--listen-metrics-urls=",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        self.procs.spawn(
            "kube-apiserver",
            [
                str(toolpaths.tool_path("kube", "kube-apiserver")),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.api_port}",
                f"--tls-cert-file={d / 'apiserver.crt'}",
                f"--tls-private-key-file={d / 'apiserver.key'}",
                f"--cert-dir={d / 'certs'}",
                f"--client-ca-file={d / 'ca.crt'}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer=https://127.0.0.1:{self.api_port}",
                f"--service-account-key-file={d / 'sa.key'}",
                f"--service-account-signing-key-file={d / 'sa.key'}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--disable-admission-plugins=ServiceAccount",
                "--allow-privileged=true",
                "--endpoint-reconciler-type=none",
            ],
        )
        write_kubeconfig(d, self.api_port)
        try:
            self._wait_ready(timeout)
            if self.with_controller_manager:
                self.procs.spawn(
                    "kube-controller-manager",
                    [
                        str(toolpaths.tool_path("kube", "kube-controller-manager")),
                        f"--kubeconfig={self.kubeconfig}",
                        f"--authentication-kubeconfig={self.kubeconfig}",
                        f"--authorization-kubeconfig={self.kubeconfig}",
                        "--controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller,"
                        "serviceaccount-token-controller",
                        f"--service-account-private-key-file={d / 'sa.key'}",
                        f"--root-ca-file={d / 'ca.crt'}",
                        "--leader-elect=false",
                        "--bind-address=127.0.0.1",
                        "--secure-port=0",
                        "--use-service-account-credentials=false",
                    ],
                )
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        ctx = ssl.create_default_context(cafile=str(self.state_dir / "ca.crt"))
        ctx.load_cert_chain(str(self.state_dir / "admin.crt"), str(self.state_dir / "admin.key"))
        url = f"https://127.0.0.1:{self.api_port}/readyz"
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            for name in ("etcd", "kube-apiserver"):
                if not self.procs.alive(name):
                    raise LocalClusterError(f"{name} exited during start-up; see {self.state_dir / name}.log")
            try:
                with urllib.request.urlopen(url, context=ctx, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError as exc:
                last = str(exc)
            time.sleep(0.25)
        raise LocalClusterError(
            f"kube-apiserver not ready after {timeout:.0f}s ({last}); see {self.state_dir}/kube-apiserver.log"
        )

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(toolpaths.tool_path("kube", "kubectl")), *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def stop(self) -> None:
        self.procs.stop_all()


def _as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the Debian `postgres` user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class PostgresCluster:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) on a free loopback port, trust auth for `postgres`."""

    state_dir: Path
    port: int = 0

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "pgdata"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        bindir = toolpaths.postgres_bin_dir()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        if os.geteuid() == 0:
            # The postgres user must be able to reach and own its directories.
            for parent in [self.state_dir, *self.state_dir.parents]:
                if parent == Path("/"):
                    break
                parent.chmod(parent.stat().st_mode | 0o711)
            shutil.chown(self.state_dir, "postgres", "postgres")
        run = _as_postgres_user()
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [
                    *run,
                    str(bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ],
                check=True,
                capture_output=True,
                text=True,
            )
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.state_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        result = subprocess.run(
            [
                *run,
                str(bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.state_dir / "postgres.log"),
                "-o",
                opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise LocalClusterError(
                f"PostgreSQL did not start: {result.stderr.strip()}; see {self.state_dir / 'postgres.log'}"
            )

    def stop(self) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return
        subprocess.run(
            [
                *_as_postgres_user(),
                str(toolpaths.postgres_bin_dir() / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
                "stop",
            ],
            capture_output=True,
            text=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hack.localcluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start etcd, kube-apiserver and kube-controller-manager in DIR")
    up.add_argument("dir", type=Path)
    down = sub.add_parser("down", help="stop the servers started in DIR")
    down.add_argument("dir", type=Path)
    args = parser.parse_args(argv)
    plane = KubeControlPlane(args.dir.resolve())
    if args.command == "up":
        try:
            plane.start()
        except LocalClusterError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"export KUBECONFIG={plane.kubeconfig}")
        print(f"export PATH={toolpaths.bin_dir('kube')}:$PATH")
        return 0
    plane.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
