"""`make demo`: the agent checkpoint story, end to end, on the local emulator (or real Neon).

An "agent" changes an app's schema and data prompt by prompt; after each prompt a Checkpoint is declared in
YAML and applied with kubectl; then a CheckpointRestore brings version 1 back, and the app sees it through the
same connection string. Every step prints what the app sees; the end prints the timeline and a summary.

    python -m devenv.demo [--keep] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import psycopg

from devenv import demo_code, tools
from devenv.environment import OPERATOR_NAMESPACE, LocalEnvironment, StartupError
from devenv.processes import LocalServerError
from neon_checkpoints.core.tables import render_columns

T = TypeVar("T")
APP_NAMESPACE = "demo"
WAIT_TIMEOUT = "180s"


@dataclass(frozen=True)
class Prompt:
    version: str
    commit: str
    text: str
    sql: str


PROMPTS = (
    Prompt(
        "v1",
        "a1c9e01",
        "create a contacts table with three people",
        """
        CREATE TABLE contacts (
            id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL,
            email text NOT NULL UNIQUE
        );
        INSERT INTO contacts (name, email) VALUES
            ('Ada Lovelace', 'ada@example.com'),
            ('Grace Hopper', 'grace@example.com'),
            ('Alan Turing', 'alan@example.com');
    """,
    ),
    Prompt(
        "v2",
        "b2d4f02",
        "add role and company to contacts",
        """
        ALTER TABLE contacts ADD COLUMN role text, ADD COLUMN company text;
        UPDATE contacts SET role = 'engineer', company = 'Analytical Engines' WHERE name = 'Ada Lovelace';
        UPDATE contacts SET role = 'admiral', company = 'US Navy' WHERE name = 'Grace Hopper';
        INSERT INTO contacts (name, email, role, company)
            VALUES ('Katherine Johnson', 'katherine@example.com', 'mathematician', 'NASA');
    """,
    ),
    Prompt(
        "v3",
        "c3e5a03",
        "tag contacts",
        """
        ALTER TABLE contacts ADD COLUMN tags text[] DEFAULT '{}';
        UPDATE contacts SET tags = ARRAY['pioneer'] WHERE id <= 2;
        DELETE FROM contacts WHERE name = 'Alan Turing';
    """,
    ),
)


@dataclass(frozen=True)
class AppView:
    """What the app sees through its one connection string."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass
class DemoResult:
    project_id: str = ""
    views: dict[str, AppView] = field(default_factory=dict)  # after each prompt and "restored-v1"
    checkpoints: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> status
    restore: dict[str, Any] = field(default_factory=dict)
    timeline: dict[str, Any] = field(default_factory=dict)
    # The code the cluster runs (issue 14): after each prompt, "restored-v1" and "undone".
    code: dict[str, demo_code.CodeView] = field(default_factory=dict)
    undo: dict[str, Any] = field(default_factory=dict)
    timings: list[tuple[str, float]] = field(default_factory=list)


class DemoFailed(RuntimeError):
    def __init__(self, step: str, reason: str, logs: Path) -> None:
        super().__init__(f"step '{step}' failed: {reason}\nlogs: {logs}")
        self.step = step


class Narrator:
    """Step headings, a heartbeat while waiting (never a silent minute), and timings."""

    def __init__(self, out: TextIO, result: DemoResult, logs: Path) -> None:
        self.out, self.result, self.logs = out, result, logs
        self.number = 0

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.number += 1
        self.say(f"\n== {self.number}. {title}")
        started = time.monotonic()
        stop = threading.Event()

        def heartbeat() -> None:
            while not stop.wait(10):
                self.say(f"   ... still working ({time.monotonic() - started:.0f}s)")

        beat = threading.Thread(target=heartbeat, daemon=True)
        beat.start()
        try:
            yield
        except (StartupError, LocalServerError, subprocess.SubprocessError, psycopg.Error, KeyError) as exc:
            raise DemoFailed(title, str(exc) or type(exc).__name__, self.logs) from exc
        finally:
            stop.set()
            beat.join()
        elapsed = time.monotonic() - started
        self.result.timings.append((title, elapsed))
        self.say(f"   done in {elapsed:.1f}s")


def read_app(url: str) -> AppView:
    # A new connection each time, as an app does after a restore moved its endpoint to the restored data.
    with psycopg.connect(url, connect_timeout=10) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'contacts'"
            " ORDER BY ordinal_position"
        ).fetchall()
        rows = conn.execute("SELECT * FROM contacts ORDER BY id").fetchall()
    return AppView(tuple(c[0] for c in columns), tuple(tuple(r) for r in rows))


def run_sql(url: str, sql: str, attempts: int = 20) -> None:
    for attempt in range(attempts):
        try:
            with psycopg.connect(url, connect_timeout=10) as conn:
                conn.execute(sql)  # trusted demo SQL: several statements in one simple query
            return
        except psycopg.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)  # the endpoint may still be starting right after provisioning


def render_view(view: AppView) -> str:
    return render_columns(view.columns, view.rows, indent="     ", rule=True)


def checkpoint_yaml(prompt: Prompt, project_id: str, branch: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: neoncheckpoints.dev/v1alpha1
        kind: Checkpoint
        metadata:
          name: {prompt.version}
          namespace: {APP_NAMESPACE}
        spec:
          projectId: {project_id}
          branch: {branch}
          source:
            commit: "{prompt.commit}"
            prompt: "{prompt.text}"
          deletionPolicy: Delete
          workloads: {json.dumps(list(demo_code.WORKLOADS))}
        """)


def restore_yaml(name: str, checkpoint: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: neoncheckpoints.dev/v1alpha1
        kind: CheckpointRestore
        metadata:
          name: {name}
          namespace: {APP_NAMESPACE}
        spec:
          checkpointRef: {{name: {checkpoint}}}
          mode: Finalize
          oldBranchPolicy: Retain
          quiesce: true
        """)


def show_code(
    env: LocalEnvironment, say: Narrator, result: DemoResult, key: str, version: str, rev: str | None
) -> None:
    """Print the code the cluster runs after a restore, and fail unless it is `version`'s."""
    code = demo_code.read_code(env.kubectl, APP_NAMESPACE)
    result.code[key] = code
    say.say("   and the code it runs came back with it:\n" + demo_code.render_code(code, rev))
    wanted = result.code[version]
    if (code.image, code.query, code.replicas) != (wanted.image, wanted.query, wanted.replicas):
        raise DemoFailed(key, f"the cluster does not run {version}'s code: {code}", env.workdir)


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.monotonic()
    value = fn()
    return value, time.monotonic() - started


def play(env: LocalEnvironment, say: Narrator, result: DemoResult) -> None:
    with say.step("Start the Neon API" + (" (real Neon)" if env.uses_real_neon else ": local emulator")):
        env.start_neon()
        say.say(f"   Neon API at {env.neon_api_url}")
    with say.step("Start the local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager)"):
        env.start_kubernetes()
        env.kubectl("create", "namespace", OPERATOR_NAMESPACE)
        env.kubectl("create", "namespace", APP_NAMESPACE)
        say.say(f"   kubeconfig: {env.kube.kubeconfig}")
    with say.step("Provision the environment with `pulumi up`"):
        outputs = env.provision()
        result.project_id = outputs["app_project_id"]
        say.say(
            f"   app project {result.project_id}, production branch '{outputs['production_branch']}',"
            " app database + separate meta database (URLs are secret outputs)"
        )
    with say.step("Apply the CRDs with kubectl and start the operator"):
        env.apply_crds()
        # Tenancy (enforced by default): the app's namespace may use the app's project, with the
        # operator's key.
        env.kubectl(
            "annotate",
            "namespace",
            APP_NAMESPACE,
            f"neoncheckpoints.dev/allowed-projects={result.project_id}",
            "neoncheckpoints.dev/default-key=allowed",
        )
        env.start_operator()
        say.say(f"   operator log: {env.workdir / 'operator.log'}")

    app_url, branch = outputs["app_database_url"], outputs["production_branch"]
    manifests = env.workdir / "manifests"
    manifests.mkdir(exist_ok=True)
    for prompt in PROMPTS:
        with say.step(f'Prompt {prompt.version}: "{prompt.text}", then checkpoint it'):
            run_sql(app_url, prompt.sql)
            demo_code.ship(env.kubectl, prompt.version, APP_NAMESPACE)
            view = read_app(app_url)
            result.views[prompt.version] = view
            say.say(f"   the app now sees ({len(view.rows)} rows):\n{render_view(view)}")
            result.code[prompt.version] = demo_code.read_code(env.kubectl, APP_NAMESPACE)
            say.say("   and runs (from the cluster):\n" + demo_code.render_code(result.code[prompt.version]))
            path = manifests / f"checkpoint-{prompt.version}.yaml"
            path.write_text(checkpoint_yaml(prompt, result.project_id, branch))
            if prompt is PROMPTS[0]:
                say.say("   declared as YAML:\n" + textwrap.indent(path.read_text(), "     | "))
            say.say(
                f"   $ kubectl apply -f {path.name} && kubectl wait --for=condition=Ready ckpt/"
                + prompt.version
            )
            env.kubectl("apply", "-f", str(path))
            env.kubectl(
                "wait",
                "-n",
                APP_NAMESPACE,
                "--for=condition=Ready",
                f"--timeout={WAIT_TIMEOUT}",
                f"checkpoint/{prompt.version}",
                timeout=200,
            )
            status = json.loads(
                env.kubectl("get", "-n", APP_NAMESPACE, "checkpoint", prompt.version, "-o", "json")
            )
            result.checkpoints[prompt.version] = status["status"]
            say.say(
                f"   checkpoint {prompt.version} Ready: snapshot {status['status'].get('snapshotId')}, code "
                + ", ".join(f"{w['kind']}/{w['name']}@{w['revision']}" for w in status["status"]["workloads"])
            )

    with say.step("What changed from v1 to v3 (`neon-checkpoints diff v1 v3 --data`)"):
        show_diff(env, say, outputs["meta_database_url"])

    with say.step("Jump back to v1: kubectl apply a CheckpointRestore (Finalize)"):
        path = manifests / "restore-v1.yaml"
        path.write_text(restore_yaml("back-to-v1", "v1"))
        say.say("   declared as YAML:\n" + textwrap.indent(path.read_text(), "     | "))
        env.kubectl("apply", "-f", str(path))
        env.kubectl(
            "wait",
            "-n",
            APP_NAMESPACE,
            "--for=jsonpath={.status.phase}=Succeeded",
            f"--timeout={WAIT_TIMEOUT}",
            "checkpointrestore/back-to-v1",
            timeout=200,
        )
        status = json.loads(
            env.kubectl("get", "-n", APP_NAMESPACE, "checkpointrestore", "back-to-v1", "-o", "json")
        )
        result.restore = status["status"]
        view = read_app(app_url)
        result.views["restored-v1"] = view
        say.say(
            f"   restored in {result.restore.get('durationSeconds', '?')}s; production is now branch "
            f"{result.restore.get('restoredBranchId')} (was {result.restore.get('replacedBranchId')})"
        )
        say.say(
            f"   via the SAME connection string the app sees ({len(view.rows)} rows):\n{render_view(view)}"
        )
        if view != result.views["v1"]:
            raise DemoFailed(
                "Jump back to v1", "the app does not see version 1 after the restore", env.workdir
            )
        show_code(env, say, result, "restored-v1", "v1", demo_code.revision_of(result.restore))

    with say.step("Undo the jump: kubectl apply a CheckpointRestore with spec.undo (back to v3)"):
        path = manifests / "undo-back-to-v1.yaml"
        path.write_text(demo_code.undo_yaml("undo-back-to-v1", "back-to-v1", APP_NAMESPACE))
        say.say("   declared as YAML:\n" + textwrap.indent(path.read_text(), "     | "))
        env.kubectl("apply", "-f", str(path))
        env.kubectl(
            "wait",
            "-n",
            APP_NAMESPACE,
            "--for=jsonpath={.status.phase}=Succeeded",
            f"--timeout={WAIT_TIMEOUT}",
            "checkpointrestore/undo-back-to-v1",
            timeout=200,
        )
        status = json.loads(
            env.kubectl("get", "-n", APP_NAMESPACE, "checkpointrestore", "undo-back-to-v1", "-o", "json")
        )
        result.undo = status["status"]
        view = read_app(app_url)
        result.views["undone"] = view
        say.say(
            f"   undone in {result.undo.get('durationSeconds', '?')}s with Neon's branch restore: production "
            f"stays branch {result.undo.get('restoredBranchId')}; what it held at v1 is kept as branch "
            f"{result.undo.get('replacedBranchId')}"
        )
        say.say(f"   the SAME connection string sees v3 again ({len(view.rows)} rows):\n{render_view(view)}")
        if view != result.views["v3"]:
            raise DemoFailed("Undo the jump", "the app does not see version 3 after the undo", env.workdir)
        show_code(env, say, result, "undone", "v3", demo_code.revision_of(result.undo))

    with say.step("The timeline, from the meta database (`neon-checkpoints timeline`)"):
        argv = [str(tools.console_script("neon-checkpoints")), "timeline", "--project-id", result.project_id]
        meta = {"META_DATABASE_URL": outputs["meta_database_url"], "PATH": str(tools.VENV_BIN)}
        table = subprocess.run(argv, env=meta, capture_output=True, text=True, timeout=60, check=True)
        say.say(textwrap.indent(table.stdout, "     "))
        as_json = subprocess.run(
            [*argv, "--output", "json"], env=meta, capture_output=True, text=True, timeout=60, check=True
        )
        result.timeline = json.loads(as_json.stdout)


def show_diff(env: LocalEnvironment, say: Narrator, meta_url: str) -> None:
    """The schema each checkpoint captured at Ready, diffed from the meta database; `--data` reads both
    snapshots from short-lived branches (deleted afterwards): v3 added role, company, tags, and lost Alan."""
    for version in ("v1", "v3"):
        env.kubectl("wait", "-n", APP_NAMESPACE, "--for=condition=SchemaCaptured",
                    f"--timeout={WAIT_TIMEOUT}", f"checkpoint/{version}", timeout=200)  # fmt: skip
    argv = [str(tools.console_script("neon-checkpoints")), "diff", "-n", APP_NAMESPACE, "v1", "v3"]
    run_env = {"META_DATABASE_URL": meta_url, "PATH": str(tools.VENV_BIN),
               "NEON_API_URL": env.neon_api_url, "NEON_API_KEY": env.neon_api_key}  # fmt: skip
    if "PYTHONPATH" in os.environ:  # a checkout run without installing it (as the operator gets it)
        run_env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    done = subprocess.run([*argv, "--data", "--rows", "3"], env=run_env, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    if done.returncode != 0:
        raise DemoFailed("What changed from v1 to v3", done.stderr.strip(), env.workdir)
    text = done.stdout
    schema_part = text.split("\n--- a/", 1)[0]  # the summary; the unified SQL diff follows it
    say.say(textwrap.indent(schema_part, "     "))
    say.say("     ... (the unified pg_dump diff follows in the command's output) ...")
    say.say(textwrap.indent(text[text.index("data diff") :], "     "))
    added = [f"+ column {column} " for column in ("role", "company", "tags")]
    if not all(a in text for a in added) or "Alan Turing" not in text.split("data diff", 1)[1]:
        raise DemoFailed("What changed from v1 to v3", "the diff does not show v3's changes", env.workdir)


def summary(result: DemoResult, total: float) -> str:
    width = max(len(title) for title, _ in result.timings)
    lines = [f"   {title.ljust(width)}  {seconds:6.1f}s" for title, seconds in result.timings]
    lines.append(f"   {'total'.ljust(width)}  {total:6.1f}s")
    return "\n".join(lines)


def keep_instructions(env: LocalEnvironment, result: DemoResult) -> str:
    kubectl = tools.tool_path("kube", "kubectl")
    return textwrap.dedent(f"""
        The system is still running (--keep). Try:
          export KUBECONFIG={env.kube.kubeconfig}
          {kubectl} get checkpoints,checkpointrestores -n {APP_NAMESPACE}
          psql "$(cat {env.workdir / "app-database-url"})" -c 'SELECT * FROM contacts'
          META_DATABASE_URL="$(cat {env.workdir / "meta-database-url"})" \\
            {tools.console_script("neon-checkpoints")} timeline --project-id {result.project_id}
          The timeline page (preview, restore, undo with your kubeconfig; open the URL it prints):
          META_DATABASE_URL="$(cat {env.workdir / "meta-database-url"})" \\
            {tools.console_script("neon-checkpoints")} ui --namespace {APP_NAMESPACE}
        Logs: {env.workdir}/*.log
        Stop it:  {tools.VENV_BIN / "python"} -m devenv.environment down {env.workdir}
        """)


def run_demo(
    workdir: Path,
    *,
    keep: bool = False,
    out: TextIO = sys.stdout,
    before_teardown: Callable[[LocalEnvironment], None] | None = None,
) -> DemoResult:
    """Play the story; raises DemoFailed naming the step. Tears everything down unless `keep`;
    `before_teardown` (a test's look at what the run left on disk) runs after a successful story."""
    if workdir.exists():
        # A previous run (say `make demo KEEP=1`) may still be up: stop it before starting afresh.
        LocalEnvironment(workdir.resolve()).stop()
        shutil.rmtree(workdir)
    result = DemoResult()
    env = LocalEnvironment(workdir.resolve())
    say = Narrator(out, result, env.workdir)
    started = time.monotonic()
    say.say(
        "neon-checkpoints demo: an agent builds an app prompt by prompt; every prompt is a checkpoint of code"
    )
    say.say(
        "AND database; then we jump back to v1 and the app's database is v1 again, same connection string."
    )
    try:
        play(env, say, result)
    except BaseException:
        if not keep:
            env.stop()
        raise
    total = time.monotonic() - started
    say.say(f"\n== Summary\n{summary(result, total)}")
    if before_teardown is not None:
        try:
            before_teardown(env)
        except BaseException:
            if not keep:
                env.stop()
            raise
    if keep:
        tools.write_private(env.workdir / "app-database-url", env.outputs["app_database_url"])
        tools.write_private(env.workdir / "meta-database-url", env.outputs["meta_database_url"])
        say.say(keep_instructions(env, result))
    else:
        with say.step("Tear everything down"):
            env.stop()
            shutil.rmtree(env.workdir, ignore_errors=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devenv.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--keep", action="store_true", help="leave the system running and print how to use it"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=tools.REPO_ROOT / ".demo",
        help="logs, data and Pulumi state (default: .demo in the repository)",
    )
    args = parser.parse_args(argv)
    try:
        run_demo(args.workdir, keep=args.keep)
    except DemoFailed as exc:
        print(f"\ndemo FAILED at {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo interrupted; everything was stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
