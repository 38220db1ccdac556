"""The Neon API v2 path templates the routes are registered under."""

from __future__ import annotations

PREFIX = "/api/v2"
PROJECTS = PREFIX + "/projects"
PROJECT = PROJECTS + "/{project_id}"
BRANCH = PROJECT + "/branches/{branch_id}"
ENDPOINT = PROJECT + "/endpoints/{endpoint_id}"
SNAPSHOT = PROJECT + "/snapshots/{snapshot_id}"
