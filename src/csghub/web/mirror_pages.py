"""Mirroring for users: "New mirror" (`/new/mirror`, offered to those the setting mirror_creators allows)
and the buttons of a mirrored repository's panel: Sync now, Pause, Resume and its interval. Each is one
service call (services/mirrors); the services decide who may, as they do for the API and the CLI."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, NotFound
from csghub.core.names import RepoId, RepoType
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.repos import page_repo_id
from csghub.services.context import Hub
from csghub.services.mirrors import choices, mirrors
from csghub.services.permissions import Actor
from csghub.web import mirror_forms, mirror_panels
from csghub.web.account_pages import owners_of
from csghub.web.forms import form_actor, signed_in_page
from csghub.web.render import render, repo_path

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
TYPES = (("model", "Model"), ("dataset", "Dataset"), ("space", "Space"), ("code", "Code"))


def _form_context(hub: Hub, actor: Actor) -> dict[str, Any]:
    if not mirror_panels.may_create_mirrors(hub, actor):
        raise NotFound("Page not found")
    return {
        "sources": choices.source_names(hub),
        "owners": owners_of(hub, actor),
        "types": TYPES,
        "intervals": mirror_panels.INTERVALS,
    }


@router.get("/new/mirror", response_class=HTMLResponse)
async def new_mirror_form(request: Request) -> Response:
    found = await signed_in_page(request)
    if isinstance(found, Response):
        return found
    context = await run_in_threadpool(_form_context, get_hub(request), found)
    form = {"repo_type": "model", "interval_seconds": mirror_forms.DEFAULT_INTERVAL}
    return render(request, "mirror_new.html", form=form, error=None, **context)


@router.post("/new/mirror", response_class=HTMLResponse)
async def create_mirror(request: Request) -> Response:
    hub = get_hub(request)
    fields, actor = await form_actor(request)
    try:
        view = await run_in_threadpool(lambda: mirrors.create_mirror(hub, actor, mirror_forms.mirror_spec(fields)))
    except HubError as exc:
        # As "New repository" does: any refusal (a taken name, a namespace one may not write) is the form again.
        context = await run_in_threadpool(_form_context, hub, actor)
        form = {
            **fields,
            "interval_seconds": mirror_forms.interval_of(fields)
            if fields.get("interval_seconds", "").isdigit()
            else None,
        }
        return render(request, "mirror_new.html", status=exc.status, form=form, error=exc.message, **context)
    # The first sync is queued: the repository's page shows it coming in.
    return RedirectResponse(repo_path(view.repo_type, view.repo_id), status_code=303)


def _change(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, change: str, fields: dict[str, str]) -> None:
    if change == "sync":
        mirrors.sync_now(hub, actor, repo_type, repo_id)
    elif change in ("pause", "resume"):
        mirrors.update_mirror(hub, actor, repo_type, repo_id, paused=change == "pause")
    elif change == "interval":
        mirrors.update_mirror(hub, actor, repo_type, repo_id, interval_seconds=mirror_forms.interval_of(fields))
    else:
        raise NotFound("Page not found")


def _routes(prefix: str, repo_type: RepoType) -> None:
    @router.post(prefix + "/{ns}/{name}/mirror/{change}", response_class=HTMLResponse)
    async def change_mirror(request: Request, ns: str, name: str, change: str) -> Response:
        fields, actor = await form_actor(request)
        repo_id = page_repo_id(ns, name)
        await run_in_threadpool(_change, get_hub(request), actor, repo_type, repo_id, change, fields)
        # Back to the page, whose panel shows what the change did (a queued task, "Paused").
        return RedirectResponse(repo_path(repo_type, f"{ns}/{name}"), status_code=303)


for _type in (RepoType.DATASET, RepoType.SPACE, RepoType.CODE):
    _routes(f"/{_type.plural}", _type)
_routes("", RepoType.MODEL)
