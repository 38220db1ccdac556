"""A throwaway Kubernetes control plane on loopback: etcd + kube-apiserver (+ kube-controller-manager) with
TLS and a client-certificate kubeconfig.

Every process is started in its own session with its pid recorded in the state directory, so `stop()` (or
`python -m devenv.controlplane down DIR`) ends them even from another process, and nothing is left running.

    python -m devenv.controlplane up DIR      # start etcd, kube-apiserver, kube-controller-manager; print env
    python -m devenv.controlplane down DIR    # stop whatever `up` started in DIR
"""

from __future__ import annotations

import argparse
import os
import ssl
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devenv import tools
from devenv.certificates import make_certificates, write_kubeconfig
from devenv.processes import LocalServerError, ProcessGroup, free_port, wait_answering


@dataclass
class KubeControlPlane:
    """etcd + kube-apiserver + kube-controller-manager on loopback, state in `state_dir`."""

    state_dir: Path
    with_controller_manager: bool = True
    api_port: int = 0
    procs: ProcessGroup = field(init=False)
    _apiserver_argv: list[str] = field(init=False, default_factory=list, repr=False)

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
        env["PATH"] = f"{tools.bin_dir('kube')}{os.pathsep}{env.get('PATH', '')}"
        return env

    @staticmethod
    def missing_tools() -> list[str]:
        return tools.missing(
            ("etcd", "etcd"),
            ("kube", "kube-apiserver"),
            ("kube", "kube-controller-manager"),
            ("kube", "kubectl"),
        )

    def start(self, timeout: float = 120.0) -> None:
        missing = self.missing_tools()
        if missing:
            raise LocalServerError(f"toolchain not built ({', '.join(missing)}): run `make setup`")
        d = self.state_dir
        make_certificates(d)
        etcd_port, peer_port = free_port(), free_port()
        self.api_port = self.api_port or free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self.procs.spawn(
            "etcd",
            [
                str(tools.tool_path("etcd", "etcd")),
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
        self._apiserver_argv = [
            str(tools.tool_path("kube", "kube-apiserver")),
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
        ]
        self.procs.spawn("kube-apiserver", self._apiserver_argv)
        write_kubeconfig(d, self.api_port)
        try:
            self._wait_ready(timeout)
            if self.with_controller_manager:
                self.procs.spawn(
                    "kube-controller-manager",
                    [
                        str(tools.tool_path("kube", "kube-controller-manager")),
                        f"--kubeconfig={self.kubeconfig}",
                        f"--authentication-kubeconfig={self.kubeconfig}",
                        f"--authorization-kubeconfig={self.kubeconfig}",
                        "--controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller,"
                        "serviceaccount-token-controller,"
                        # The app's workloads (issue 14): their controllers observe each new generation and
                        # make ReplicaSets and Pods (which stay Pending: no scheduler or kubelet runs).
                        "deployment-controller,replicaset-controller,statefulset-controller",
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

    def stop_apiserver(self) -> None:
        """Stop kube-apiserver alone (etcd keeps the state), e.g. to test recovery."""
        self.procs.stop("kube-apiserver")

    def start_apiserver(self, timeout: float = 60.0) -> None:
        """Start kube-apiserver again, on the same port and state, and wait until it is ready."""
        self.procs.spawn("kube-apiserver", self._apiserver_argv)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        ctx = ssl.create_default_context(cafile=str(self.state_dir / "ca.crt"))
        ctx.load_cert_chain(str(self.state_dir / "admin.crt"), str(self.state_dir / "admin.key"))
        url = f"https://127.0.0.1:{self.api_port}/readyz"

        def exited() -> str | None:
            return next((n for n in ("etcd", "kube-apiserver") if not self.procs.alive(n)), None)

        try:
            gone = wait_answering(url, exited=exited, timeout=timeout, context=ctx, interval=0.25)
        except TimeoutError as exc:
            log = self.procs.log_path("kube-apiserver")
            raise LocalServerError(
                f"kube-apiserver not ready after {timeout:.0f}s ({exc}); see {log}"
            ) from exc
        if gone is not None:
            raise LocalServerError(f"{gone} exited during start-up; see {self.procs.log_path(gone)}")

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(tools.tool_path("kube", "kubectl")), *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def apply_crds(self, manifests: Path = tools.REPO_ROOT / "crds", *, timeout: float = 60.0) -> None:
        """`kubectl apply` CRD manifests (a file or a folder) and wait until the apiserver serves each."""
        self.kubectl("apply", "-f", str(manifests))
        self.kubectl(
            "wait",
            "--for=condition=Established",
            "-f",
            str(manifests),
            f"--timeout={timeout:g}s",
            timeout=timeout + 10,
        )

    def stop(self) -> None:
        self.procs.stop_all()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devenv.controlplane",
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
        except LocalServerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"export KUBECONFIG={plane.kubeconfig}")
        print(f"export PATH={tools.bin_dir('kube')}:$PATH")
        return 0
    plane.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
