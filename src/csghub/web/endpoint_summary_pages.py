"""An endpoint's Summary page (`/endpoints/{owner}/{name}`): its stable URL, state with the reason,
replicas, events, live logs, metrics and code to call it, and its owner's actions; and `/endpoints`,
the endpoints the viewer may see. An endpoint the viewer may not see is the 404 page, as a private
repository is."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.http.deps import base_url, get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.services.compute import endpoints
from csghub.services.compute.endpoints import EndpointView, EventView
from csghub.services.permissions import Action, Actor, EndpointResource, can
from csghub.web.endpoint_snippets import snippets
from csghub.web.forms import drop_notice, take_notice
from csghub.web.render import page_actor, render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
EVENTS_SHOWN = 30
MOVING = ("pending", "building", "deploying")


def resource_of(view: EndpointView) -> EndpointResource:
    return EndpointResource(view.owner, view.visibility, f"{view.owner}/{view.name}")


def progress_of(view: EndpointView, events: list[EventView]) -> str:
    """What the endpoint is doing or why it stopped, in words: never a bare spinner."""
    if view.state == "failed":
        errors = [e.message for e in events if e.level == "error"]
        return view.reason or (errors[-1] if errors else "")
    if view.state in MOVING:
        if view.state == "building" and view.framework.state == "building":
            return view.reason or f"building the '{view.framework.name}' runtime environment"
        return view.reason or (events[-1].message if events else "")
    return view.reason


@router.get("/endpoints", response_class=HTMLResponse)
async def endpoint_list(request: Request) -> Response:
    actor = await page_actor(request)
    hub = get_hub(request)
    owner = request.query_params.get("owner", "").strip() or None

    def work() -> Response:
        views = endpoints.list_endpoints(hub, actor, owner=owner)
        return render(request, "endpoint_list.html", endpoints=views, owner=owner)

    return await run_in_threadpool(work)


@router.get("/endpoints/{owner}/{name}", response_class=HTMLResponse)
async def endpoint_summary(request: Request, owner: str, name: str) -> Response:
    actor: Actor = await page_actor(request)
    hub = get_hub(request)
    root = base_url(request)

    def work() -> Response:
        view = endpoints.find_endpoint(hub, actor, owner, name)
        events = endpoints.endpoint_events(hub, actor, view.id)
        metrics = endpoints.endpoint_metrics(hub, actor, view.id)
        url = f"{root}/endpoints/{view.owner}/{view.name}/v1"
        model_name = f"{view.owner}/{view.name}"
        page = f"/endpoints/{view.owner}/{view.name}"
        response = render(
            request,
            "endpoint_summary.html",
            endpoint=view,
            page=page,
            url=url,
            progress=progress_of(view, events),
            moving=view.state in MOVING or (view.state == "running" and view.desired == "running" and not _ready(view)),
            events=list(reversed(events[-EVENTS_SHOWN:])),
            metrics=metrics,
            ready=sum(r.state == "healthy" for r in view.replicas),
            manage=can(actor, Action.MANAGE, resource_of(view)),
            snippets=snippets(
                url, model_name, private=view.visibility == "private", embeddings=view.framework.engine == "embeddings"
            ),
            replica_indexes=sorted({r.index for r in view.replicas}),
            notice=take_notice(request, actor) if not actor.is_anonymous else None,
        )
        return drop_notice(request, response, page)

    return await run_in_threadpool(work)


def _ready(view: EndpointView) -> bool:
    return sum(r.state == "healthy" for r in view.replicas) >= view.min_replicas
