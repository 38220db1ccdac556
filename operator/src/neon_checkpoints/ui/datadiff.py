"""The page's data diff: the CLI's `diff --data` (schema/data.py, the same code) run as a background job of
this process with the user's own Neon key, one at a time; the page polls the job until it is done.

The key stays inside `DataDiffs`: it is never put in a page, an answer, a log line or an error shown (errors
are scrubbed of it). The job runs in a thread (the diff's Neon client and connections are synchronous) and
ends in the diff's own `finally`, which deletes its branches, whether or not a browser still watches; when
the ui stops, the running job is told to stop at its next step and is awaited. Branches of a ui killed
outright are deleted by the next data diff of the project (the CLI's sweep of dead processes' branches).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import psycopg

from neon_api import NeonClient, errors
from neon_checkpoints.meta.records import CheckpointRow
from neon_checkpoints.schema.data import TableData, Terminated, compare_data
from neon_checkpoints.schema.diff import CapturedSchema

MAX_ROWS = 100  # changed rows shown per table, at most
KEPT_JOBS = 20  # finished jobs kept for their pages
STOP_WAIT_SECONDS = 120.0  # how long stopping the ui waits for a running diff to delete its branches


class Compare(Protocol):
    def __call__(
        self,
        client: NeonClient,
        a: CheckpointRow,
        b: CheckpointRow,
        schemas_a: dict[str, CapturedSchema],
        schemas_b: dict[str, CapturedSchema],
        *,
        rows: int = 0,
        progress: Callable[[str], None] | None = None,
    ) -> list[TableData]: ...


@dataclass(frozen=True)
class Side:
    """One checkpoint to compare: its meta row and its captured schemas (what `diff --data` reads)."""

    row: CheckpointRow
    schemas: Mapping[str, CapturedSchema]


@dataclass
class Job:
    id: str
    project: str
    a: str
    b: str
    rows: int
    started_at: dt.datetime
    state: Literal["running", "done", "failed"] = "running"
    steps: list[str] = field(default_factory=list)
    tables: list[TableData] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    _began: float = field(default_factory=time.monotonic, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def done(self) -> bool:
        return self.state != "running"

    def elapsed(self) -> float:
        return self.seconds if self.done else time.monotonic() - self._began

    def same_request(self, project: str, a: str, b: str, rows: int) -> bool:
        return (self.project, self.a, self.b, self.rows) == (project, a, b, rows)


class Busy(Exception):
    """Another data diff is running in this process."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"data diff {job.a} -> {job.b} is running")
        self.job = job


class DataDiffs:
    def __init__(
        self, api_url: str, api_key: str | None, *, hint: str = "", compare: Compare = compare_data
    ) -> None:
        """`hint`: how the user gives this process their key (said on the page when there is none)."""
        self.api_url, self.hint = api_url, hint
        self.__key = api_key or None
        self._compare = compare
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._running: tuple[Job, asyncio.Task[None]] | None = None

    def __repr__(self) -> str:
        return f"DataDiffs({self.api_url!r}, key={'set' if self.__key else 'none'})"

    @property
    def enabled(self) -> bool:
        return self.__key is not None

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def running(self) -> Job | None:
        return self._running[0] if self._running else None

    def start(self, project: str, a: Side, b: Side, rows: int) -> Job:
        """A new job, running; Busy when one already is (no await in here: the check and the start are one
        step of the event loop)."""
        if self.__key is None:
            raise RuntimeError("no Neon API key configured")
        if self._running is not None:
            raise Busy(self._running[0])
        job = Job(secrets.token_urlsafe(9), project, a.row.name, b.row.name, rows, dt.datetime.now(dt.UTC))
        self._jobs[job.id] = job
        while len(self._jobs) > KEPT_JOBS:
            self._jobs.popitem(last=False)
        self._running = (job, asyncio.create_task(self._run(job, a, b), name=f"data-diff-{job.id}"))
        return job

    async def _run(self, job: Job, a: Side, b: Side) -> None:
        try:
            job.tables = await asyncio.to_thread(self._compare_now, job, a, b)
            job.state = "done"
        except Terminated:
            job.state, job.error = "failed", "stopped: the ui is stopping (the diff's branches were deleted)"
        except (errors.NeonError, psycopg.Error, ValueError) as exc:
            job.state, job.error = "failed", self._scrub(f"the data diff failed: {exc}")
        except Exception as exc:  # shown on the page (the ui stays up); only its type: it may hold anything
            job.state, job.error = "failed", self._scrub(f"the data diff failed: {type(exc).__name__}")
        finally:
            job.seconds = time.monotonic() - job._began
            job.steps.append("done" if job.state == "done" else "failed")
            self._running = None

    def _compare_now(self, job: Job, a: Side, b: Side) -> list[TableData]:
        def step(text: str) -> None:
            if job._stop.is_set():
                raise Terminated()
            job.steps.append(text)

        assert self.__key is not None
        with NeonClient(self.api_url, self.__key) as client:
            return self._compare(
                client, a.row, b.row, dict(a.schemas), dict(b.schemas), rows=job.rows, progress=step
            )

    def _scrub(self, message: str) -> str:
        return message.replace(self.__key, "****") if self.__key else message

    async def close(self) -> None:
        """Stop the running job at its next step and wait for it to delete its branches."""
        if self._running is None:
            return
        job, task = self._running
        job._stop.set()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(task), STOP_WAIT_SECONDS)


def as_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "state": job.state,
        "done": job.done,
        "steps": list(job.steps),
        "seconds": round(job.elapsed(), 1),
        "error": job.error,
    }
