"""`POST /projects/{project_id}/branches/{branch_id}/restore`: a branch from another branch's head."""

from __future__ import annotations

from aiohttp import web

from neon_emulator.model.branch_restore import restore_branch

from ..bodies import opt_str, parse_json, req_str
from ..views import branch_view, operations_view
from .paths import BRANCH
from .resource import Resource, Route, ok


class BranchRestore(Resource):
    def routes(self) -> list[Route]:
        return [("POST", BRANCH + "/restore", self.restore_branch)]

    async def restore_branch(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        body = parse_json(await request.text(), required=True)
        restored = restore_branch(
            self.model,
            pid,
            bid,
            source_branch_id=req_str(body, "source_branch_id", "source_branch_id"),
            preserve_under_name=opt_str(body, "preserve_under_name", "preserve_under_name"),
            source_lsn=opt_str(body, "source_lsn", "source_lsn"),
            source_timestamp=opt_str(body, "source_timestamp", "source_timestamp"),
        )
        self.changed(pid)
        return ok(
            {"branch": branch_view(restored.branch), "operations": operations_view(restored.operations)}
        )
