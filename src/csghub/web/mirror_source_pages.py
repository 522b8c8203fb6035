"""The mirror sources in site administration, under /admin/mirrors/sources: list, add, edit, delete. The
token is write-only: the pages say whether one is set, never what it is, and a refused form comes back
without it. The services decide who may (site administrators) and what is valid (the URL passes the
outbound address rules); the form shows their reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.params import RowId
from csghub.services.context import Hub
from csghub.services.mirrors import sources
from csghub.services.permissions import Actor
from csghub.web import mirror_source_forms
from csghub.web.admin_pages import admin_page
from csghub.web.forms import form_actor, redirect_with_notice
from csghub.web.render import correctable, render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
SOURCES = "/admin/mirrors/sources"


def _sources_context(hub: Hub, actor: Actor) -> dict[str, Any]:
    return {"tab": "mirrors", "sub": "sources", "sources": sources.list_sources(hub, actor)}


@router.get(SOURCES, response_class=HTMLResponse)
async def sources_page(request: Request) -> Response:
    def load(hub: Hub, actor: Actor) -> dict[str, Any]:
        return {**_sources_context(hub, actor), "form": mirror_source_forms.source_form(None), "editing": None}

    return await admin_page(request, "admin_mirror_sources.html", load)


@router.get(SOURCES + "/{source_id}", response_class=HTMLResponse)
async def source_page(request: Request, source_id: RowId) -> Response:
    def load(hub: Hub, actor: Actor) -> dict[str, Any]:
        source = sources.get_source(hub, actor, source_id)
        return {**_sources_context(hub, actor), "form": mirror_source_forms.source_form(source), "editing": source}

    return await admin_page(request, "admin_mirror_sources.html", load)


async def _source_change(
    request: Request, source_id: int | None, change: Callable[[Hub, Actor, dict[str, str]], str]
) -> Response:
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
            form = mirror_source_forms.posted_source_form(fields, has_token)
            return {**_sources_context(hub, actor), "form": form, "editing": editing}

        context = await run_in_threadpool(again)
        return render(
            request, "admin_mirror_sources.html", status=exc.status, notice=None, error=exc.message, **context
        )
    return redirect_with_notice(request, actor, SOURCES, notice, path="/admin")


@router.post(SOURCES, response_class=HTMLResponse)
async def create_source(request: Request) -> Response:
    def change(hub: Hub, actor: Actor, fields: dict[str, str]) -> str:
        sources.create_source(hub, actor, mirror_source_forms.source_spec(fields, editing=False))
        return "Source added"

    return await _source_change(request, None, change)


@router.post(SOURCES + "/{source_id}", response_class=HTMLResponse)
async def update_source(request: Request, source_id: RowId) -> Response:
    def change(hub: Hub, actor: Actor, fields: dict[str, str]) -> str:
        sources.update_source(hub, actor, source_id, mirror_source_forms.source_changes(fields))
        return "Source saved"

    return await _source_change(request, source_id, change)


@router.post(SOURCES + "/{source_id}/delete", response_class=HTMLResponse)
async def delete_source(request: Request, source_id: RowId) -> Response:
    def change(hub: Hub, actor: Actor, fields: dict[str, str]) -> str:
        sources.delete_source(hub, actor, source_id)
        return "Source deleted"

    return await _source_change(request, None, change)
