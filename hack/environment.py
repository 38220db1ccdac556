"""The whole system on one machine, started and stopped by the project's own code (used by `make demo`).

    emulator (or real Neon)  ->  pulumi up (app project, production branch, app DB, meta DB)
    etcd + kube-apiserver + kube-controller-manager  ->  CRDs  ->  the operator run by kopf

Every process runs detached with its pid recorded under the work directory, so `stop()` (or
`python -m hack.environment down DIR`) ends them even from another shell, e.g. after `make demo KEEP=1`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hack import toolpaths
from hack.localcluster import KubeControlPlane, LocalClusterError, ProcessGroup, free_port

VENV_BIN = Path(sys.executable).parent
STACK_DIR = toolpaths.REPO_ROOT / "pulumi_stack"
STACK_NAME = "demo"
OPERATOR_NAMESPACE = "neon-checkpoints"


class StartupError(RuntimeError):
    """A step of bringing the system up failed; the message says which and where its log is."""


def _wait_http(
    url: str,
    *,
    what: str,
    log: Path,
    timeout: float,
    alive: ProcessGroup,
    name: str,
    headers: dict[str, str] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers=headers or {})
    while time.monotonic() < deadline:
        if not alive.alive(name):
            raise StartupError(f"{what} exited during start-up; see {log}")
        try:
            with urllib.request.urlopen(request, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise StartupError(f"{what} did not answer on {url} within {timeout:.0f}s; see {log}")


@dataclass
class LocalEnvironment:
    """State for one run; `workdir` holds every log, data directory and the Pulumi state."""

    workdir: Path
    neon_api_url: str = ""
    neon_api_key: str = field(default="", repr=False)
    outputs: dict[str, str] = field(default_factory=dict, repr=False)
    procs: ProcessGroup = field(init=False)
    kube: KubeControlPlane = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.procs = ProcessGroup(self.workdir)
        self.kube = KubeControlPlane(self.workdir / "kube")

    # -- Neon ------------------------------------------------------------------------------------------------
    @property
    def uses_real_neon(self) -> bool:
        return bool(os.environ.get("NEON_API_URL") and os.environ.get("NEON_API_KEY"))

    def start_neon(self) -> None:
        """Real Neon when NEON_API_URL/NEON_API_KEY are set, else the local emulator on a free port."""
        if self.uses_real_neon:
            self.neon_api_url = os.environ["NEON_API_URL"].rstrip("/")
            self.neon_api_key = os.environ["NEON_API_KEY"]
            return
        port = free_port()
        self.neon_api_key = "demo-" + secrets.token_hex(16)
        env = dict(os.environ, NEON_EMULATOR_API_KEY=self.neon_api_key)
        self.procs.spawn(
            "emulator",
            [
                str(VENV_BIN / "neon-emulator"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                str(self.workdir / "emulator"),
            ],
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        _wait_http(
            f"{base}/admin/status",
            what="the Neon emulator",
            log=self.workdir / "emulator.log",
            timeout=60,
            alive=self.procs,
            name="emulator",
            headers={"Authorization": f"Bearer {self.neon_api_key}"},
        )
        self.neon_api_url = f"{base}/api/v2"

    # -- Kubernetes ------------------------------------------------------------------------------------------
    def start_kubernetes(self) -> None:
        try:
            self.kube.start()
        except LocalClusterError as exc:
            raise StartupError(str(exc)) from exc

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 120.0) -> str:
        result = self.kube.kubectl(*args, input=input, check=False, timeout=timeout)
        if result.returncode != 0:
            raise StartupError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def apply_crds(self) -> None:
        self.kubectl("apply", "-f", str(toolpaths.REPO_ROOT / "crds"))
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")

    # -- Pulumi ----------------------------------------------------------------------------------------------
    @property
    def pulumi_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
        env.update(
            {
                # The built kubectl first: the stack writes the operator's Secret with it.
                "PATH": os.pathsep.join(
                    [str(toolpaths.bin_dir("pulumi")), str(toolpaths.bin_dir("kube")), env.get("PATH", "")]
                ),
                "PULUMI_HOME": str(self.workdir / "pulumi-home"),
                "PULUMI_BACKEND_URL": f"file://{self.workdir / 'pulumi-state'}",
                "PULUMI_CONFIG_PASSPHRASE": "neon-checkpoints-demo",
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
                "NO_COLOR": "1",
            }
        )
        return env

    def pulumi(self, *args: str, timeout: float = 600.0, secret_output: bool = False) -> str:
        (self.workdir / "pulumi-state").mkdir(exist_ok=True)
        config_file = self.workdir / f"Pulumi.{STACK_NAME}.yaml"
        # The stack's config lives in the work dir, not beside Pulumi.yaml in the repository.
        uses_config = args[0] in {"config", "up", "preview", "refresh", "destroy"}
        argv = [
            str(toolpaths.tool_path("pulumi", "pulumi")),
            "--cwd",
            str(STACK_DIR),
            *args,
            *(["--config-file", str(config_file)] if uses_config else []),
            "--non-interactive",
        ]
        log = (self.workdir / "pulumi.log").open("a")
        try:
            result = subprocess.run(
                argv,
                env=self.pulumi_env,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
            shown = "(output holds secrets: not logged)\n" if secret_output else result.stdout
            log.write(f"$ pulumi {' '.join(args)}\n{shown}{result.stderr}\n")
        finally:
            log.close()
        if result.returncode != 0:
            raise StartupError(f"pulumi {args[0]} failed; see {self.workdir / 'pulumi.log'}")
        return result.stdout

    def provision(self) -> dict[str, str]:
        """`pulumi up` of pulumi_stack/ against the chosen Neon API; returns the stack outputs."""
        self.pulumi("stack", "select", "--create", STACK_NAME)
        self.pulumi("config", "set", "neon:apiUrl", self.neon_api_url)
        self.pulumi("config", "set", "--secret", "neon:apiKey", self.neon_api_key)
        self.pulumi("config", "set", "neon-checkpoints:kubeconfig", str(self.kube.kubeconfig))
        self.pulumi("config", "set", "neon-checkpoints:operatorNamespace", OPERATOR_NAMESPACE)
        self.pulumi("up", "--yes", "--skip-preview")
        self.outputs = json.loads(
            self.pulumi("stack", "output", "--json", "--show-secrets", secret_output=True)
        )
        return self.outputs

    # -- the operator ----------------------------------------------------------------------------------------
    def start_operator(self) -> None:
        port = free_port()
        env = dict(self.kube.env)
        env.update(
            {
                "NEON_API_URL": self.neon_api_url,
                "NEON_API_KEY": self.neon_api_key,
                "META_DATABASE_URL": self.outputs["meta_database_url"],
                "LOG_LEVEL": "INFO",
            }
        )
        self.procs.spawn(
            "operator",
            [
                str(VENV_BIN / "neon-checkpoints"),
                "operator",
                "--liveness",
                f"http://127.0.0.1:{port}/healthz",
            ],
            env=env,
        )
        _wait_http(
            f"http://127.0.0.1:{port}/healthz",
            what="the operator",
            log=self.workdir / "operator.log",
            timeout=90,
            alive=self.procs,
            name="operator",
        )

    # -- teardown --------------------------------------------------------------------------------------------
    def stop(self) -> None:
        self.procs.stop_all()  # operator first (reverse start order), then the emulator and its postgres
        self.kube.stop()
        # `pulumi stack select --create` leaves the stack's encryption salt beside Pulumi.yaml.
        (STACK_DIR / f"Pulumi.{STACK_NAME}.yaml").unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hack.environment",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    down = sub.add_parser("down", help="stop everything started in DIR (e.g. by `make demo KEEP=1`)")
    down.add_argument("dir", type=Path)
    args = parser.parse_args(argv)
    LocalEnvironment(args.dir.resolve()).stop()
    print(f"stopped everything started in {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
