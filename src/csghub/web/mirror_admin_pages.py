"""Mirroring in site administration, under /admin/mirrors: every mirror (filtered by source and state),
and the sync tasks with their progress, reason, times and logs, Cancel and Retry (the sources have their own
module, web/mirror_source_pages.py). The services decide who may look (site administrators): anyone
else gets the error page they answer with."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, NotFound
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.params import RowId
from csghub.services.context import Hub
from csghub.services.mirrors import choices, mirrors
from csghub.services.mirrors.records import STATES
from csghub.services.permissions import SITE, Action, Actor, authorize
from csghub.web.admin_pages import PAGE_SIZE, admin_page, page_of, pager
from csghub.web.forms import form_actor, redirect_with_notice
from csghub.web.render import correctable, render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
TASKS = "/admin/mirrors/tasks"


def _choice(value: str | None, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else ""


@router.get("/admin/mirrors", response_class=HTMLResponse)
async def mirrors_page(request: Request) -> Response:
    params = request.query_params
    state, source, page = _choice(params.get("state"), STATES), params.get("source", ""), page_of(request)

    def load(hub: Hub, actor: Actor) -> dict[str, Any]:
        found, total = mirrors.list_mirrors(
            hub, actor, source=source or None, state=state or None, page=page, per_page=PAGE_SIZE, every=True
        )
        more = page * PAGE_SIZE < total
        pages = pager("/admin/mirrors", {"state": state, "source": source}, page, more)
        known = choices.source_names(hub)
        return {"tab": "mirrors", "sub": "all", "mirrors": found, "state": state, "source": source,
                "states": STATES, "source_names": known, **pages}  # fmt: skip

    return await admin_page(request, "admin_mirrors.html", load)


def _tasks_context(request: Request, hub: Hub, actor: Actor) -> dict[str, Any]:
    state, page = _choice(request.query_params.get("state"), STATES), page_of(request)
    found, total = mirrors.list_tasks(hub, actor, state=state or None, page=page, per_page=PAGE_SIZE)
    pages = pager(TASKS, {"state": state}, page, page * PAGE_SIZE < total)
    back = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
    return {"tab": "mirrors", "sub": "tasks", "tasks": found, "state": state, "states": STATES,
            "back": back, **pages}  # fmt: skip


@router.get(TASKS, response_class=HTMLResponse)
async def tasks_page(request: Request) -> Response:
    return await admin_page(request, "admin_mirror_tasks.html", lambda hub, actor: _tasks_context(request, hub, actor))


@router.get(TASKS + "/{task_id}/logs", response_class=HTMLResponse)
async def task_logs_page(request: Request, task_id: RowId) -> Response:
    def load(hub: Hub, actor: Actor) -> dict[str, Any]:
        authorize(actor, Action.ADMIN, SITE)  # the admin area; owners read their tasks' logs through the API
        log = mirrors.task_log(hub, actor, task_id)
        return {"tab": "mirrors", "sub": "tasks", "task": mirrors.get_task(hub, task_id), "log": log}

    return await admin_page(request, "admin_mirror_task_log.html", load)


_TASK_ACTIONS = {"cancel": (mirrors.cancel_task, "Task cancelled"), "retry": (mirrors.retry_task, "Task queued again")}


@router.post(TASKS + "/{task_id}/{change}", response_class=HTMLResponse)
async def change_task(request: Request, task_id: RowId, change: str) -> Response:
    hub = get_hub(request)
    fields, actor = await form_actor(request)
    back = fields.get("back", "")
    back = back if back.startswith(TASKS) else TASKS
    if change not in _TASK_ACTIONS:
        raise NotFound(f"Unknown change '{change}'")
    action, notice = _TASK_ACTIONS[change]
    try:
        await run_in_threadpool(action, hub, actor, task_id)
    except HubError as exc:
        if not correctable(exc):
            raise
        context = await run_in_threadpool(_tasks_context, request, hub, actor)
        return render(request, "admin_mirror_tasks.html", status=exc.status, notice=None, error=exc.message, **context)
    return redirect_with_notice(request, actor, back, notice, path="/admin")
