"""What flow tests run on instead of a cluster and Neon: a fake Kube (objects, Secrets, status patches and
Events recorded), a stateful fake Neon behind httpx.MockTransport (every request recorded with the key it
carried), and the real meta store on the suite's PostgreSQL. The flows themselves run unchanged, without
kopf."""

from tests.unit.flowkit.kube import FakeKube, PostedEvent, body, raw_object
from tests.unit.flowkit.neon import DEFAULT_KEY, FakeNeon, FakeProject
from tests.unit.flowkit.runtime import (
    BASE_URL,
    NeonCalls,
    Sent,
    World,
    neon_transport,
    open_runtime,
    open_world,
    settings,
)

__all__ = [
    "BASE_URL",
    "DEFAULT_KEY",
    "FakeKube",
    "FakeNeon",
    "FakeProject",
    "NeonCalls",
    "PostedEvent",
    "Sent",
    "World",
    "body",
    "neon_transport",
    "open_runtime",
    "open_world",
    "raw_object",
    "settings",
]
