"""The aiohttp application of `neon-checkpoints ui`: routes, the Host/CSRF guard and security headers.

Routes (GET pages render server-side; the small script in static/ui.js only polls and swaps fragments):
  GET  /                                      the apps (Neon projects) with checkpoints in the namespace
  GET  /apps/{project}                        the app: timeline picture, checkpoints, restores, diff of two
  GET  /apps/{project}/live                   the live part of that page, as an HTML fragment (polled)
  GET  /apps/{project}/timeline.json          the same as JSON
  GET  /apps/{project}/plan?action=&target=   the CheckpointRestore an action would create (YAML), to confirm
  POST /apps/{project}/restores               create it (CSRF token, same origin), then go to its progress
  GET  /apps/{project}/restores/{name}        a restore's progress (phase, conditions) until it is done
  GET  /apps/{project}/restores/{name}.json   the same as JSON (polled)
  POST /apps/{project}/data-diffs             start a data diff of two checkpoints (CSRF token, same origin;
                                              needs the user's Neon key in this process; one at a time)
  GET  /apps/{project}/data-diffs/{id}        its progress, then its result
  GET  /apps/{project}/data-diffs/{id}.json   the same as JSON with the rendered result (polled)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Awaitable, Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from neon_checkpoints.names import CHECKPOINT_RESTORES
from neon_checkpoints.runtime.kube import AlreadyExists, Kube, KubeError
from neon_checkpoints.schema.data import table_data_json
from neon_checkpoints.settings import DEFAULT_NEON_API_URL
from neon_checkpoints.ui import csrf, datadiff, manifests
from neon_checkpoints.ui.data import Problem, Reader
from neon_checkpoints.ui.datadiff import DataDiffs, Job
from neon_checkpoints.ui.layout import layout, phase_class
from neon_checkpoints.ui.model import FINAL_PHASES, AppView, compare

HERE = Path(__file__).parent
READER = web.AppKey("reader", Reader)
SECRET = web.AppKey("secret", bytes)
HOSTS = web.AppKey("hosts", frozenset[str])
TEMPLATES = web.AppKey("templates", jinja2.Environment)
POLL_MS = web.AppKey("poll_ms", int)
DATA_DIFFS = web.AppKey("data_diffs", DataDiffs)
SESSION = web.RequestKey("session", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HEADERS = {
    # Nothing from elsewhere, no framing (a confirm button must not be clickjacked), no referrer to other
    # origins (`no-referrer` would make Chromium send `Origin: null` on our own forms, which we refuse).
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def make_app(
    kube: Kube,
    meta_dsn: str,
    namespace: str,
    *,
    hosts: Collection[str] = csrf.LOOPBACK_HOSTS,
    poll_seconds: float = 2.0,
    data_diffs: DataDiffs | None = None,
) -> web.Application:
    """`data_diffs` holds the user's Neon key if they gave one (without it the page shows the CLI command)."""
    app = web.Application(middlewares=[guard])
    app[READER] = Reader(kube, meta_dsn, namespace)
    app[DATA_DIFFS] = data_diffs or DataDiffs(DEFAULT_NEON_API_URL, None)
    app[SECRET] = csrf.new_secret()
    app[HOSTS] = frozenset(h.lower() for h in hosts)
    app[POLL_MS] = int(poll_seconds * 1000)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["phase_class"] = phase_class
    env.filters["when"] = _when
    app[TEMPLATES] = env
    app.router.add_get("/", index)
    app.router.add_get("/apps/{project}", app_page)
    app.router.add_get("/apps/{project}/live", live)
    app.router.add_get("/apps/{project}/timeline.json", timeline_json)
    app.router.add_get("/apps/{project}/plan", plan)
    app.router.add_post("/apps/{project}/restores", create_restore)
    app.router.add_get("/apps/{project}/restores/{name}.json", restore_json)
    app.router.add_get("/apps/{project}/restores/{name}", restore_page)
    app.router.add_post("/apps/{project}/data-diffs", start_data_diff)
    app.router.add_get("/apps/{project}/data-diffs/{job}.json", data_diff_json)
    app.router.add_get("/apps/{project}/data-diffs/{job}", data_diff_page)
    app.router.add_static("/static", HERE / "static")
    app.on_shutdown.append(_stop_data_diff)
    return app


async def _stop_data_diff(app: web.Application) -> None:
    await app[DATA_DIFFS].close()


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request: only the served host names (DNS rebinding), security headers, a session cookie."""
    hosts: frozenset[str] = request.app[HOSTS]
    if not csrf.host_allowed(request.host, hosts):
        return web.Response(status=421, text="this page is served only under its own address\n")
    session = request.cookies.get(csrf.COOKIE)
    fresh = None if session else csrf.new_session()
    request[SESSION] = session or fresh or ""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _finish(exc, fresh)
        raise
    _finish(response, fresh)
    return response


def _finish(response: web.StreamResponse, fresh: str | None) -> None:
    response.headers.update(HEADERS)
    if fresh:
        response.set_cookie(csrf.COOKIE, fresh, httponly=True, samesite="Strict", path="/")


def _globals(request: web.Request) -> dict[str, Any]:
    """What every template (a page or a fragment) may use."""
    return {
        "csrf_field": csrf.FIELD,
        "csrf_token": csrf.token(request.app[SECRET], request[SESSION]),
        "namespace": request.app[READER].namespace,
        "poll_ms": request.app[POLL_MS],
        "data_enabled": request.app[DATA_DIFFS].enabled,
        "max_rows": datadiff.MAX_ROWS,
        "data_hint": request.app[DATA_DIFFS].hint,
    }


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    env = request.app[TEMPLATES]
    html = env.get_template(template).render(**_globals(request), **context)
    return web.Response(text=html, status=status, content_type="text/html")


def fragment(request: web.Request, template: str, **context: Any) -> str:
    return request.app[TEMPLATES].get_template(template).render(**_globals(request), **context)


async def index(request: web.Request) -> web.Response:
    reading = await request.app[READER].read(None)
    return render(request, "index.html.j2", projects=reading.project_ids, problems=reading.problems)


def _pair(request: web.Request) -> tuple[str, str] | None:
    a, b = request.query.get("a"), request.query.get("b")
    return (a, b) if a and b else None


async def _live_context(request: web.Request) -> dict[str, Any]:
    reader = request.app[READER]
    project = request.match_info["project"]
    view, reading = await reader.app(project)
    pair = _pair(request)
    details = await reader.details(view, pair)
    changes = None
    if pair:
        a, b = view.checkpoint(pair[0]), view.checkpoint(pair[1])
        changes = compare(a, b) if a and b else None
    return {
        "app": view,
        "picture": layout(view),
        "problems": reading.problems,
        "schemas": details.schemas,
        "diff": details.diff,
        "pair": pair,
        "changes": changes,
        "undoable": _undoable(view),
        "running_data_diff": _running(request, project),
    }


def _running(request: web.Request, project: str) -> Job | None:
    job = request.app[DATA_DIFFS].running()
    return job if job and job.project == project else None


def _undoable(view: AppView) -> frozenset[str]:
    """Finalized restores that succeeded and are not undone yet: the ones an Undo is offered for."""
    undone = {r.undo_of for r in view.restores if r.undo_of and r.phase != "Failed"}
    return frozenset(
        r.name
        for r in view.restores
        if r.mode == "Finalize" and r.phase == "Succeeded" and r.name not in undone
    )


async def app_page(request: web.Request) -> web.Response:
    context = await _live_context(request)
    html = fragment(request, "live.html.j2", **context)
    return render(request, "app.html.j2", live_html=html, version=_version(html), **context)


def _version(fragment: str) -> str:
    return hashlib.sha256(fragment.encode()).hexdigest()[:16]


async def live(request: web.Request) -> web.Response:
    context = await _live_context(request)
    html = fragment(request, "live.html.j2", **context)
    return web.Response(text=html, content_type="text/html", headers={"X-Version": _version(html)})


async def timeline_json(request: web.Request) -> web.Response:
    view, reading = await request.app[READER].app(request.match_info["project"])
    body = {
        "projectId": view.project_id,
        "namespace": view.namespace,
        "production": view.production,
        "events": [dataclasses.asdict(e) for e in view.events],
        "checkpoints": [dataclasses.asdict(c) for c in view.checkpoints],
        "restores": [dataclasses.asdict(r) for r in view.restores],
        "undoTargets": dict(view.undo_targets),
        "problems": [dataclasses.asdict(p) for p in reading.problems],
    }
    return web.json_response(body, dumps=lambda v: json.dumps(v, default=str))


async def _checked(request: web.Request, action: str, target: str, name: str | None) -> manifests.Request:
    """The action, if the page offers it for this app: its target must be one of the app's."""
    try:
        parsed = manifests.Request.parse(action, target, name)
    except manifests.BadAction as exc:
        raise _error(request, 400, str(exc)) from None
    view, _ = await request.app[READER].app(request.match_info["project"])
    if parsed.action == "undo":
        if parsed.target not in _undoable(view):
            raise _error(request, 400, f"{target} is not a succeeded finalized restore of this app")
    elif view.checkpoint(parsed.target) is None:
        raise _error(request, 400, f"{target} is not a checkpoint of this app")
    return parsed


def _error(request: web.Request, status: int, message: str, *, forbidden: bool = False) -> web.HTTPException:
    response = render(
        request,
        "error.html.j2",
        status=status,
        message=message,
        forbidden=forbidden,
        project=request.match_info.get("project"),
    )
    exc = web.HTTPException(text=response.text, content_type="text/html")
    exc.set_status(status)
    return exc


async def plan(request: web.Request) -> web.Response:
    parsed = await _checked(request, request.query.get("action", ""), request.query.get("target", ""), None)
    manifest = manifests.body(parsed, request.app[READER].namespace)
    return render(
        request,
        "plan.html.j2",
        project=request.match_info["project"],
        request_=parsed,
        manifest_yaml=manifests.as_yaml(manifest),
    )


async def _allowed_form(request: web.Request, nothing_done: str) -> Mapping[str, str]:
    """The action's form, if its request carries this session's token from this page's own origin."""
    form = await request.post()
    refusal = csrf.refusal(
        secret=request.app[SECRET],
        host=request.host,
        headers=request.headers,
        cookie=request.cookies.get(csrf.COOKIE),
        submitted=str(form.get(csrf.FIELD, "")) or None,
    )
    if refusal:
        raise _error(request, 403, f"Refused: {refusal}. {nothing_done}")
    return {k: str(v) for k, v in form.items()}


async def create_restore(request: web.Request) -> web.Response:
    form = await _allowed_form(request, "Nothing was created.")
    parsed = await _checked(
        request, str(form.get("action", "")), str(form.get("target", "")), str(form.get("name", "")) or None
    )
    reader = request.app[READER]
    manifest = manifests.body(parsed, reader.namespace)
    try:
        await reader.kube.create(CHECKPOINT_RESTORES, reader.namespace, manifest)
    except AlreadyExists:
        raise _error(request, 409, f"a CheckpointRestore named {parsed.name} already exists") from None
    except KubeError as exc:
        if exc.status == 403:
            raise _error(
                request,
                403,
                f"Forbidden: your Kubernetes user may not create checkpointrestores in namespace "
                f"{reader.namespace}. Nothing was created.",
                forbidden=True,
            ) from None
        if exc.status == 422:
            raise _error(
                request,
                422,
                "The Kubernetes API rejected this CheckpointRestore as invalid (does the cluster's CRD "
                "know every field shown? `kubectl apply -f crds/` updates it).",
            ) from None
        raise _error(
            request, 502, f"the Kubernetes API failed to create it ({exc.status or 'no answer'})"
        ) from None
    raise web.HTTPSeeOther(f"/apps/{request.match_info['project']}/restores/{parsed.name}")


def _progress(body: dict[str, Any]) -> dict[str, Any]:
    status = body.get("status") or {}
    phase = status.get("phase") or "Pending"
    return {
        "name": body["metadata"]["name"],
        "phase": phase,
        "css": phase_class(phase),
        "done": phase in FINAL_PHASES,
        "message": status.get("message") or "",
        "conditions": [
            {k: str(c.get(k, "")) for k in ("type", "status", "reason", "message")}
            for c in status.get("conditions") or []
        ],
    }


async def _restore(request: web.Request) -> dict[str, Any]:
    name = request.match_info["name"]
    body, problem = await request.app[READER].restore(name)
    if problem:
        raise _error(request, 403 if problem.forbidden else 502, problem.message, forbidden=problem.forbidden)
    if body is None:
        raise _error(
            request, 404, f"no CheckpointRestore {name} in namespace {request.app[READER].namespace}"
        )
    return body


async def restore_page(request: web.Request) -> web.Response:
    body = await _restore(request)
    return render(
        request,
        "restore.html.j2",
        project=request.match_info["project"],
        progress=_progress(body),
        manifest_yaml=manifests.as_yaml({"spec": body.get("spec") or {}}),
    )


async def restore_json(request: web.Request) -> web.Response:
    return web.json_response(_progress(await _restore(request)))


async def start_data_diff(request: web.Request) -> web.Response:
    """Run `diff A B --data --rows N` here, in the background, with the user's Neon key; go to its page."""
    project = request.match_info["project"]
    form = await _allowed_form(request, "No data diff was started.")
    diffs = request.app[DATA_DIFFS]
    if not diffs.enabled:
        how = diffs.hint or "none is set"
        raise _error(request, 409, f"Comparing data needs your Neon API key in the ui: {how}.")
    a, b = form.get("a", ""), form.get("b", "")
    try:
        rows = int(form.get("rows") or 0)
    except ValueError:
        rows = -1
    if not 0 <= rows <= datadiff.MAX_ROWS:
        raise _error(request, 400, f"rows must be a whole number from 0 to {datadiff.MAX_ROWS}")
    running = diffs.running()
    if running and running.same_request(project, a, b, rows):
        raise web.HTTPSeeOther(_job_url(running))
    view, _ = await request.app[READER].app(project)
    sides = await request.app[READER].data_sides(view, a, b)
    if isinstance(sides, str):
        raise _error(request, 400, f"No data diff was started: {sides}.")
    try:
        job = diffs.start(project, sides[0], sides[1], rows)
    except datadiff.Busy as exc:
        raise _error(
            request,
            409,
            f"A data diff ({exc.job.a} → {exc.job.b}) is running already; one runs at a time. "
            f"It is at {_job_url(exc.job)}.",
        ) from None
    raise web.HTTPSeeOther(_job_url(job))


def _job_url(job: Job) -> str:
    return f"/apps/{job.project}/data-diffs/{job.id}"


def _job(request: web.Request) -> Job:
    job = request.app[DATA_DIFFS].get(request.match_info["job"])
    if job is None or job.project != request.match_info["project"]:
        raise _error(request, 404, "no such data diff (this ui keeps the last ones only, until it stops)")
    return job


def _job_context(job: Job) -> dict[str, Any]:
    return {"job": job, "tables": [table_data_json(t) for t in job.tables], "seconds": job.elapsed()}


async def data_diff_page(request: web.Request) -> web.Response:
    job = _job(request)
    return render(request, "datadiff.html.j2", project=job.project, **_job_context(job))


async def data_diff_json(request: web.Request) -> web.Response:
    job = _job(request)
    body = datadiff.as_json(job)
    body["html"] = fragment(request, "_datadiff.html.j2", **_job_context(job))
    return web.json_response(body)


__all__ = ["Problem", "make_app"]
