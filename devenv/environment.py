"""The whole system on one machine, started and stopped by the project's own code (used by `make demo`).

    emulator (or real Neon)  ->  pulumi up (app project, production branch, app DB, meta DB)
    etcd + kube-apiserver + kube-controller-manager  ->  CRDs  ->  the operator run by kopf

Every process runs detached with its pid recorded under the work directory, so `stop()` (or
`python -m devenv.environment down DIR`) ends them even from another shell, e.g. after `make demo KEEP=1`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devenv import tools
from devenv.controlplane import KubeControlPlane
from devenv.emulator import start_emulator
from devenv.operator_process import start_operator
from devenv.processes import ProcessGroup

STACK_DIR = tools.REPO_ROOT / "pulumi_stack"
STACK_NAME = "demo"
OPERATOR_NAMESPACE = "neon-checkpoints"


class StartupError(RuntimeError):
    """A step of bringing the system up failed; the message says which and where its log is."""


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
        emulator = start_emulator(
            self.workdir / "emulator", api_key="demo-" + secrets.token_hex(16), group=self.procs
        )
        self.neon_api_key = emulator.api_key
        self.neon_api_url = emulator.url

    # -- Kubernetes ------------------------------------------------------------------------------------------
    def start_kubernetes(self) -> None:
        self.kube.start()

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 120.0) -> str:
        result = self.kube.kubectl(*args, input=input, check=False, timeout=timeout)
        if result.returncode != 0:
            raise StartupError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def apply_crds(self) -> None:
        try:
            self.kube.apply_crds()
        except subprocess.CalledProcessError as exc:
            raise StartupError(f"applying the CRDs failed: {exc.stderr.strip()}") from None

    # -- Pulumi ----------------------------------------------------------------------------------------------
    @property
    def pulumi_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
        env.update(
            {
                # The built kubectl first: the stack writes the operator's Secret with it.
                "PATH": os.pathsep.join(
                    [str(tools.bin_dir("pulumi")), str(tools.bin_dir("kube")), env.get("PATH", "")]
                ),
                "PULUMI_HOME": str(self.workdir / "pulumi-home"),
                "PULUMI_BACKEND_URL": f"file://{self.workdir / 'pulumi-state'}",
                "PULUMI_CONFIG_PASSPHRASE_FILE": str(self.passphrase_file()),
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
                "NO_COLOR": "1",
            }
        )
        return env

    def passphrase_file(self) -> Path:
        """The stack's passphrase, random per work dir and mode 0600: the state and Pulumi.demo.yaml are
        world-readable, so a passphrase known from the source would make their secrets plain text."""
        path = self.workdir / "pulumi-passphrase"
        if not path.exists():
            tools.write_private(path, secrets.token_urlsafe(32))
        return path

    def pulumi(
        self, *args: str, timeout: float = 600.0, secret_output: bool = False, secret_input: str | None = None
    ) -> str:
        """Run the Pulumi CLI on the stack, logging to `pulumi.log` (mode 0600). A secret goes in through
        `secret_input` (standard input), never the command line, so neither the log nor `ps` shows it."""
        (self.workdir / "pulumi-state").mkdir(exist_ok=True)
        config_file = self.workdir / f"Pulumi.{STACK_NAME}.yaml"
        # The stack's config lives in the work dir, not beside Pulumi.yaml in the repository.
        uses_config = args[0] in {"config", "up", "preview", "refresh", "destroy"}
        argv = [
            str(tools.tool_path("pulumi", "pulumi")),
            "--cwd",
            str(STACK_DIR),
            *args,
            *(["--config-file", str(config_file)] if uses_config else []),
            "--non-interactive",
        ]
        log_path = self.workdir / "pulumi.log"
        log_path.touch(mode=0o600)
        log_path.chmod(0o600)
        log = log_path.open("a")
        try:
            result = subprocess.run(
                argv,
                env=self.pulumi_env,
                capture_output=True,
                text=True,
                timeout=timeout,
                input=secret_input if secret_input is not None else "",
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
        self.pulumi("config", "set", "--secret", "neon:apiKey", secret_input=self.neon_api_key)
        self.pulumi("config", "set", "neon-checkpoints:kubeconfig", str(self.kube.kubeconfig))
        self.pulumi("config", "set", "neon-checkpoints:operatorNamespace", OPERATOR_NAMESPACE)
        self.pulumi("up", "--yes", "--skip-preview")
        self.outputs = json.loads(
            self.pulumi("stack", "output", "--json", "--show-secrets", secret_output=True)
        )
        return self.outputs

    # -- the operator ----------------------------------------------------------------------------------------
    def start_operator(self) -> None:
        start_operator(
            neon_api_url=self.neon_api_url,
            neon_api_key=self.neon_api_key,
            meta_database_url=self.outputs["meta_database_url"],
            kubeconfig=self.kube.kubeconfig,
            log_path=self.procs.log_path("operator"),
            settings={"LOG_LEVEL": "INFO"},
            group=self.procs,
        )

    # -- teardown --------------------------------------------------------------------------------------------
    def stop(self) -> None:
        self.procs.stop_all()  # operator first (reverse start order), then the emulator and its postgres
        self.kube.stop()
        # `pulumi stack select --create` leaves the stack's encryption salt beside Pulumi.yaml.
        (STACK_DIR / f"Pulumi.{STACK_NAME}.yaml").unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devenv.environment",
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
