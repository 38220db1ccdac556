"""The operator's Prometheus metrics, on one registry per Runtime, served on `/metrics` when
`NEON_CHECKPOINTS_METRICS_PORT` is set.

One prefix (`neon_checkpoints_`), base units (`_seconds`), and labels from small closed sets only: kinds,
results, verdict reasons, phases, HTTP methods, route templates, status classes, Neon actions. Never a
project id, a resource name or anything secret. The names are listed once, in `METRIC_NAMES`, which the
chart's dashboard test checks its queries against.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar, cast

import kopf
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PREFIX = "neon_checkpoints"
# No `*_created` series: they double the scrape for a timestamp Prometheus does not need (process-wide).
disable_created_metrics()  # type: ignore[no-untyped-call]

# Neon operations and flows: tens of milliseconds (the emulator) to minutes (a large restore on Neon).
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60)


def status_class(status: int | None) -> str:
    """`2xx`..`5xx`, or `error` when no answer came (a transport error)."""
    return f"{status // 100}xx" if status is not None else "error"


class PhaseCensus(Collector):
    """How many resources of each kind are in each phase, from the watch events kopf delivers (the initial
    listing included), so the gauge also counts resources no flow has touched since the start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # scrapes run in the HTTP server's thread
        self._phases: dict[tuple[str, str], str] = {}

    def seen(self, kind: str, uid: str, phase: str | None, *, deleted: bool = False) -> None:
        with self._lock:
            if deleted:
                self._phases.pop((kind, uid), None)
            else:
                self._phases[(kind, uid)] = phase or "Unknown"

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            phases = list(self._phases.items())
        counts: dict[tuple[str, str], int] = {}
        for (kind, _), phase in phases:
            counts[(kind, phase)] = counts.get((kind, phase), 0) + 1
        return counts

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            f"{PREFIX}_resources",
            "Resources the operator watches, by kind and phase",
            labels=["kind", "phase"],
        )
        for (kind, phase), count in sorted(self.counts().items()):
            family.add_metric([kind, phase], count)
        yield family


class Metrics:
    """Every metric the operator exports. Also the `neon_api` observer of every client the operator makes."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.reconciles = Counter(
            f"{PREFIX}_reconcile",
            "Handler runs, by kind and result (success, retry, failed, error)",
            ["kind", "result"],
            registry=r,
        )
        self.reconcile_errors = Counter(
            f"{PREFIX}_reconcile_errors",
            "Failed handler runs, by kind and the reason written to status",
            ["kind", "reason"],
            registry=r,
        )
        self.reconcile_seconds = Histogram(
            f"{PREFIX}_reconcile_duration_seconds",
            "How long one handler run took, by kind",
            ["kind"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.checkpoint_seconds = Histogram(
            f"{PREFIX}_checkpoint_duration_seconds",
            "Checkpoint created -> Ready",
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.restore_seconds = Histogram(
            f"{PREFIX}_restore_duration_seconds",
            "CheckpointRestore requested -> Succeeded, by mode",
            ["mode"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.neon_requests = Counter(
            f"{PREFIX}_neon_requests",
            "Neon API attempts (each retry counts), by method, route template and status class",
            ["method", "route", "status_class"],
            registry=r,
        )
        self.neon_request_seconds = Histogram(
            f"{PREFIX}_neon_request_duration_seconds",
            "One Neon API attempt's latency, by method and route template",
            ["method", "route"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.neon_rate_limited = Counter(
            f"{PREFIX}_neon_rate_limited",
            "Neon API answers 429 (rate limited), by method and route template",
            ["method", "route"],
            registry=r,
        )
        self.neon_retries = Counter(
            f"{PREFIX}_neon_retries",
            "Neon API requests resent by the client, by the status that caused it (or transport)",
            ["method", "route", "cause"],
            registry=r,
        )
        self.operation_wait_seconds = Histogram(
            f"{PREFIX}_neon_operation_wait_seconds",
            "Waits for Neon operations, by the (sorted, +-joined) actions waited for",
            ["action"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.lock_wait_seconds = Histogram(
            f"{PREFIX}_project_lock_wait_seconds",
            "Time a flow waited for its Neon project's lock, by outcome (acquired, busy)",
            ["outcome"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.meta_errors = Counter(
            f"{PREFIX}_meta_database_errors",
            "Meta database errors that interrupted a flow, by kind",
            ["kind"],
            registry=r,
        )
        # A request that waited for its key's request budget (neon_api/budget.py), reported by the client.
        self.budget_wait_seconds = Histogram(
            f"{PREFIX}_budget_wait_seconds",
            "Time a Neon request waited for the operator's request budget",
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.census = PhaseCensus()
        r.register(self.census)
        self._server: Any = None

    # -- neon_api's Observer --------------------------------------------------------------------------

    def answered(self, method: str, route: str, status: int | None, seconds: float) -> None:
        self.neon_requests.labels(method, route, status_class(status)).inc()
        self.neon_request_seconds.labels(method, route).observe(seconds)
        if status == 429:
            self.neon_rate_limited.labels(method, route).inc()

    def retrying(self, method: str, route: str, status: int | None, delay: float) -> None:
        self.neon_retries.labels(method, route, str(status) if status is not None else "transport").inc()

    def waited(self, actions: Sequence[str], seconds: float) -> None:
        self.operation_wait_seconds.labels("+".join(actions) or "none").observe(seconds)

    # -- the operator's own -------------------------------------------------------------------------

    @contextlib.contextmanager
    def reconcile(self, kind: str, outcome: Callable[[BaseException | None], str]) -> Iterator[None]:
        """Count and time one handler run; `outcome(exc)` names its result."""
        started = time.monotonic()
        try:
            yield
        except BaseException as exc:
            self.reconciles.labels(kind, outcome(exc)).inc()
            raise
        else:
            self.reconciles.labels(kind, outcome(None)).inc()
        finally:
            self.reconcile_seconds.labels(kind).observe(time.monotonic() - started)

    def failed(self, kind: str, reason: str) -> None:
        self.reconcile_errors.labels(kind, reason).inc()
        if reason == "MetaDatabaseUnavailable":
            self.meta_errors.labels(kind).inc()

    def lock_waited(self, seconds: float, *, acquired: bool) -> None:
        self.lock_wait_seconds.labels("acquired" if acquired else "busy").observe(seconds)

    def budget_waited(self, seconds: float) -> None:
        """For the request budget: one call waited this long before it was let through."""
        self.budget_wait_seconds.observe(seconds)

    # -- serving --------------------------------------------------------------------------------------

    def serve(self, port: int, address: str) -> int:
        """Serve `/metrics` in a background thread; the port bound (0: any free one)."""
        server, _thread = start_http_server(port, addr=address, registry=self.registry)
        self._server = server
        return int(server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}


def metric_names(metrics: Metrics) -> frozenset[str]:
    """Every series name the operator exports (histograms' _bucket/_sum/_count, counters' _total)."""
    return frozenset(
        family.name + suffix
        for family in metrics.registry.collect()
        for suffix in _SUFFIXES.get(family.type, ("",))
    )


def reconcile_result(exc: BaseException | None) -> str:
    """A handler run's result as controller-runtime names them: success, retry (kopf will call again),
    failed (given up: PermanentError), error (anything unexpected, which kopf also retries)."""
    if exc is None:
        return "success"
    if isinstance(exc, kopf.TemporaryError):
        return "retry"
    if isinstance(exc, kopf.PermanentError):
        return "failed"
    return "error"


H = TypeVar("H", bound=Callable[..., Awaitable[Any]])


def reconciles(kind: str) -> Callable[[H], H]:
    """Count and time every run of a kopf handler (applied under kopf's decorator, which calls it)."""

    def decorate(handler: H) -> H:
        @functools.wraps(handler)
        async def run(*args: Any, **kwargs: Any) -> Any:
            runtime = kwargs["memo"].get("runtime")
            if runtime is None:
                return await handler(*args, **kwargs)
            with runtime.metrics.reconcile(kind, reconcile_result):
                return await handler(*args, **kwargs)

        return cast(H, run)

    return decorate
