"""Test-only crash injection: `NEON_CHECKPOINTS_CRASH_AFTER=<point>` makes the process die abruptly at that
point of a flow, as a kill -9 would, so tests can prove the flows resume without doing things twice."""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

CRASH_EXIT_CODE = 137


def crash_point(configured: str | None, point: str) -> None:
    if configured == point:
        logger.warning("crash injection: exiting abruptly after %s", point)
        sys.stderr.flush()
        os._exit(CRASH_EXIT_CODE)
