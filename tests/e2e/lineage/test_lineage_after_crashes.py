"""The timeline follows Neon's order after crashes (issue 20 item 8): kill -9 of the operator at random
moments while 5 finalized restores and 30 checkpoints run over 3 projects, for 10 seeds. After each seed,
checked against Neon's own record (the emulator's snapshots and restored branches, by their timestamps):

- every checkpoint's parent, in the meta database and in its status, is the checkpoint production was at
  when Neon took its snapshot (after the restores Neon ran before it, whatever order they were recorded in);
- the last recorded restore of each project names Neon's production branch;
- no snapshot was taken twice and no restore ran twice.

One control plane, emulator and meta database for all seeds (fresh projects and names per seed). A seed
takes about 35 s here, so `make test` runs seeds 0-2 (within its 25-minute budget) and `LINEAGE_SEEDS=10`
runs the issue's ten."""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from devenv.operator_process import OperatorProcess
from tests.e2e.checkpoint.conftest import Harness

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]

SEEDS = range(int(os.environ.get("LINEAGE_SEEDS", "3")))
PROJECTS = 3
FIRST = 4  # checkpoints per project before the restores
LATER = 6  # checkpoints per project applied with the restores
RESTORES = (2, 2, 1)  # per project: 5 in all
KILLS = 3  # per seed, at random moments


@dataclass
class Operator:
    """The one running operator, killed (SIGKILL) and started again."""

    h: Harness
    process: OperatorProcess

    def kill_and_restart(self) -> None:
        self.process.kill()
        self.process = self.h.start_operator()


def checkpoint_doc(h: Harness, project: str, name: str) -> str:
    return h.example("checkpoint.yaml", project, **{"name: v1": f"name: {name}", "3f2c9e1": name})


def restore_doc(name: str, checkpoint: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "neoncheckpoints.dev/v1alpha1",
            "kind": "CheckpointRestore",
            "metadata": {"name": name},
            "spec": {"checkpointRef": {"name": checkpoint}, "mode": "Finalize"},
        }
    )


def items(h: Harness, kind: str, prefix: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = yaml.safe_load(h.kubectl("get", kind, "-o", "yaml").stdout)["items"]
    return [i for i in listed if i["metadata"]["name"].startswith(prefix)]


def run_with_kills(
    h: Harness, operator: Operator, rng: random.Random, kills: int, done: Callable[[], bool], what: str
) -> None:
    """Kill the operator `kills` times at random moments (0.1-1.5 s apart, while work is under way), then
    wait for `done`."""
    deadline = time.monotonic() + 150
    for _ in range(kills):
        time.sleep(rng.uniform(0.1, 1.5))
        if done():
            break
        operator.kill_and_restart()
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not finish\n{h.operators.logs(2500)}")
        time.sleep(0.3)


def all_final(h: Harness, prefix: str, checkpoints: int, restores: int) -> bool:
    """Every resource of the seed done: first by the meta database (cheap to poll), then by status."""
    done = h.meta_rows(
        "SELECT (SELECT count(*) FROM checkpoints WHERE name LIKE %s AND phase = 'Ready')"
        " + (SELECT count(*) FROM restores WHERE name LIKE %s AND phase IN ('Succeeded', 'Failed')) AS n",
        f"{prefix}%",
        f"{prefix}%",
    )[0]["n"]
    if done < checkpoints + restores:
        return False
    phases = [i.get("status", {}).get("phase") for i in items(h, "checkpoints", prefix)]
    phases += [i.get("status", {}).get("phase") for i in items(h, "checkpointrestores", prefix)]
    return all(p in ("Ready", "Succeeded", "Failed") for p in phases)


def production_at(events: list[tuple[dt.datetime, int, str | None]], at: dt.datetime) -> str | None:
    """The oracle: from Neon's record only. Events (time, kind 0 = snapshot / 1 = restore, checkpoint uid):
    production is at the last snapshot's checkpoint, or at the checkpoint the last restore restored."""
    head = None
    for moment, _, uid in sorted(events, key=lambda e: (e[0], e[1])):
        if moment >= at:
            break
        head = uid
    return head


def check_against_neon(h: Harness, prefix: str, projects: list[str]) -> None:
    checkpoints = {i["metadata"]["uid"]: i for i in items(h, "checkpoints", prefix)}
    restores = {i["metadata"]["uid"]: i for i in items(h, "checkpointrestores", prefix)}
    rows = {r["uid"]: r for r in h.meta_rows("SELECT * FROM checkpoints WHERE name LIKE %s", f"{prefix}%")}
    uid_of_id = {r["id"]: uid for uid, r in rows.items()}
    restore_rows = h.meta_rows("SELECT * FROM restores WHERE name LIKE %s", f"{prefix}%")
    assert {i["status"]["phase"] for i in checkpoints.values()} == {"Ready"}
    assert {i["status"]["phase"] for i in restores.values()} == {"Succeeded"}
    assert set(rows) == set(checkpoints), "one meta row per checkpoint"
    with h.neon() as neon:
        for project in projects:
            snapshots = {s.name: s for s in neon.list_snapshots(project)}
            branches = neon.list_branches(project)
            mine = {uid: c for uid, c in checkpoints.items() if c["spec"]["projectId"] == project}
            # No snapshot taken twice: exactly one per Checkpoint, under its deterministic name.
            assert sorted(snapshots) == sorted(f"ckpt-{uid}" for uid in mine)
            uid_of_snapshot = {s.id: name.removeprefix("ckpt-") for name, s in snapshots.items()}
            finalized = [b for b in branches if b.restored_from and b.restored_as]
            project_restores = [r for r in restore_rows if r["project_id"] == project]
            # No restore ran twice: one finalized branch per restore.
            assert len(finalized) == len(project_restores), [b.name for b in finalized]
            events = [(s.created_at, 0, uid_of_snapshot[s.id]) for s in snapshots.values()]
            events += [(b.created_at, 1, uid_of_snapshot[b.restored_from or ""]) for b in finalized]
            for uid, item in mine.items():
                expected = production_at(events, snapshots[f"ckpt-{uid}"].created_at)
                recorded = rows[uid]["parent_checkpoint_id"]
                got = uid_of_id.get(recorded)
                assert got == expected, (
                    f"{item['metadata']['name']}: parent {checkpoint_name(checkpoints, got)}, "
                    f"Neon's order says {checkpoint_name(checkpoints, expected)}"
                )
                assert item["status"].get("parentCheckpointId") == recorded, item["status"]
            production = next(b for b in branches if b.name == "production")
            last = max(project_restores, key=lambda r: r["completed_at"])
            assert last["restored_branch_id"] == production.id, (
                f"last recorded restore {last['name']} names {last['restored_branch_id']}, "
                f"Neon's production is {production.id}"
            )
            status = next(i for i in restores.values() if i["metadata"]["uid"] == last["uid"])["status"]
            assert status["restoredBranchId"] == production.id and "is now" in status["message"], status


def checkpoint_name(checkpoints: dict[str, dict[str, Any]], uid: str | None) -> str:
    return checkpoints[uid]["metadata"]["name"] if uid in checkpoints else str(uid)


def run_seed(h: Harness, operator: Operator, seed: int) -> None:
    rng = random.Random(seed)
    prefix = f"s{seed}-"
    with ThreadPoolExecutor(PROJECTS) as pool:
        projects = list(pool.map(lambda _: h.create_project(), range(PROJECTS)))
    names = [[f"{prefix}c{p}-{i:02d}" for i in range(FIRST + LATER)] for p in range(PROJECTS)]
    first = [checkpoint_doc(h, projects[p], names[p][i]) for p in range(PROJECTS) for i in range(FIRST)]
    assert h.apply("\n---\n".join(first)).returncode == 0
    run_with_kills(
        h, operator, rng, 1, lambda: all_final(h, prefix, PROJECTS * FIRST, 0), "the first checkpoints"
    )
    # The restores and the later checkpoints together: they queue on the project lock, and the kills
    # land between a restore's acceptance by Neon and its recording, or a snapshot's.
    later = [
        checkpoint_doc(h, projects[p], names[p][i])
        for p in range(PROJECTS)
        for i in range(FIRST, FIRST + LATER)
    ]
    for p, count in enumerate(RESTORES):
        for r in range(count):
            later.append(restore_doc(f"{prefix}r{p}-{r}", rng.choice(names[p][:FIRST])))
    rng.shuffle(later)
    assert h.apply("\n---\n".join(later)).returncode == 0
    total = PROJECTS * (FIRST + LATER), sum(RESTORES)
    run_with_kills(h, operator, rng, KILLS - 1, lambda: all_final(h, prefix, *total), "the restores")
    check_against_neon(h, prefix, projects)
    with h.neon() as neon:
        for project in projects:
            neon.delete_project(project)


def test_the_timeline_follows_neon_after_random_kills(harness: Harness) -> None:
    operator = Operator(harness, harness.start_operator())
    for seed in SEEDS:
        try:
            began = time.monotonic()
            run_seed(harness, operator, seed)
            print(f"seed {seed}: {time.monotonic() - began:.1f}s")
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}: {exc}") from None
