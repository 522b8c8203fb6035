"""Mirroring in site administration, under /admin/mirrors: every mirror, the sources (add, edit, delete;
the token is write-only: the pages say whether one is set, never what it is), and the sync tasks with
their progress, Cancel and Retry. The services decide who may look (site administrators): anyone else
gets the 404 page they answer with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, NotFound
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.params import RowId
from csghub.services.context import Hub
from csghub.services.mirrors import choices, mirrors, sources
from csghub.services.mirrors.records import STATES
from csghub.services.permissions import Actor
from csghub.web import mirror_forms
from csghub.web.admin_pages import PAGE_SIZE, admin_page, page_of, pager
from csghub.web.forms import form_actor, redirect_with_notice
from csghub.web.render import correctable, render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
SOURCES = "/admin/mirrors/sources"
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


def _sources_context(hub: Hub, actor: Actor) -> dict[str, Any]:
    return {"tab": "mirrors", "sub": "sources", "sources": sources.list_sources(hub, actor)}


@router.get(SOURCES, response_class=HTMLResponse)
async def sources_page(request: Request) -> Response:
    def load(hub: Hub, actor: Actor) -> dict[str, Any]:
        return {**_sources_context(hub, actor), "form": mirror_forms.source_form(None), "editing": None}

    return await admin_page(request, "admin_mirror_sources.html", load)


@router.get(SOURCES + "/{source_id}", response_class=HTMLResponse)
async def source_page(request: Request, source_id: RowId) -> Response:
    def load(hub: Hub, actor: Actor) -> dict[str, Any]:
        source = sources.get_source(hub, actor, source_id)
        return {**_sources_context(hub, actor), "form": mirror_forms.source_form(source), "editing": source}

    return await admin_page(request, "admin_mirror_sources.html", load)


async def _source_change(request: Request, source_id: int | None, change: Callable[[Hub, Actor, dict[str, str]], str]) -> Response:
    """Run one change to a source, then back to the sources with its notice, or the form with the reason."""
    hub = get_hub(request)
    fields, actor = await form_actor(request)
    try:
        notice = await run_in_threadpool(change, hub, actor, fields)
    except HubError as exc:
        if not correctable(exc):
            raise

        def again() -> dict[str, Any]:
            editing = sources.get_source(hub, actor, source_id) if source_id is not None else None
            has_token = bool(editing and editing.has_token)
            form = mirror_forms.posted_source_form(fields, has_token)
            return {**_sources_context(hub, actor), "form": form, "editing": editing}

        context = await run_in_threadpool(again)
        return render(request, "admin_mirror_sources.html", status=exc.status, notice=None, error=exc.message, **context)
    return redirect_with_notice(request, actor, SOURCES, notice, path="/admin")


@router.post(SOURCES, response_class=HTMLResponse)
async def create_source(request: Request) -> Response:
    def change(hub: Hub, actor: Actor, fields: dict[str, str]) -> str:
        sources.create_source(hub, actor, mirror_forms.source_spec(fields, editing=False))
        return "Source added"

    return await _source_change(request, None, change)


@router.post(SOURCES + "/{source_id}", response_class=HTMLResponse)
async def update_source(request: Request, source_id: RowId) -> Response:
    def change(hub: Hub, actor: Actor, fields: dict[str, str]) -> str:
        sources.update_source(hub, actor, source_id, mirror_forms.source_spec(fields, editing=True))
        return "Source saved"

    return await _source_change(request, source_id, change)


@router.post(SOURCES + "/{source_id}/delete", response_class=HTMLResponse)
async def delete_source(request: Request, source_id: RowId) -> Response:
    def change(hub: Hub, actor: Actor, fields: dict[str, str]) -> str:
        sources.delete_source(hub, actor, source_id)
        return "Source deleted"

    return await _source_change(request, None, change)


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
