"""Creating and changing an inference endpoint in the portal: "Deploy → Dedicated endpoint" on a model
page opens `/endpoints/new?model=ns/name`; an endpoint's settings reuse the same form. Every rule is
the compute service's: a refusal shows the form again with the reason next to its field, and nothing
is created."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, InvalidArgument, NotFound
from csghub.core.names import RepoId
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.services.compute import endpoints
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize
from csghub.web.endpoint_forms import FormError, error_of, form_context, spec_of, suggested_name, values_of
from csghub.web.endpoint_summary_pages import resource_of
from csghub.web.forms import form_actor, redirect_with_notice, signed_in_page
from csghub.web.i18n import translate_error
from csghub.web.render import correctable, language, render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
CONSOLE = "/resource-console"


def summary_url(owner: str, name: str) -> str:
    return f"/endpoints/{owner}/{name}"


def _model_of(text: str) -> RepoId:
    try:
        return RepoId.parse(text.strip())
    except InvalidArgument:
        raise NotFound("Page not found") from None


def _form(
    request: Request,
    hub: Hub,
    actor: Actor,
    model: RepoId,
    values: dict[str, str],
    *,
    endpoint: endpoints.EndpointView | None = None,
    error: FormError | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = form_context(hub, actor, model, values)
    if error is not None:  # the service's words, in the page's language
        error = FormError(error.field, translate_error(language(request), error.message, error.code), error.code)
    action = f"{summary_url(endpoint.owner, endpoint.name)}/settings" if endpoint else "/endpoints/new"
    return render(
        request,
        "endpoint_form.html",
        status=status,
        endpoint=endpoint,
        action=action,
        form_error=error,
        **context,
    )


@router.get("/endpoints/new", response_class=HTMLResponse)
async def new_endpoint(request: Request) -> Response:
    found = await signed_in_page(request)
    if not isinstance(found, Actor):
        back = quote(f"/endpoints/new?model={request.query_params.get('model', '')}", safe="/")
        return RedirectResponse(f"/login?next={back}", 303)
    model = _model_of(request.query_params.get("model", ""))
    hub = get_hub(request)
    return await run_in_threadpool(_form, request, hub, found, model, {"name": suggested_name(model)})


@router.post("/endpoints/new", response_class=HTMLResponse)
async def create_endpoint(request: Request) -> Response:
    fields, actor = await form_actor(request)
    hub = get_hub(request)
    model = _model_of(fields.get("model", ""))

    def work() -> Response:
        try:
            view = endpoints.create_endpoint(hub, actor, model, spec_of(fields))
        except HubError as exc:
            if not correctable(exc) or exc.code == "RepoNotFound":
                raise
            return _form(request, hub, actor, model, fields, error=error_of(exc), status=exc.status)
        url = summary_url(view.owner, view.name)
        return redirect_with_notice(request, actor, url, "Endpoint created: it starts in a moment", path=url)

    return await run_in_threadpool(work)


def _managed(hub: Hub, actor: Actor, owner: str, name: str) -> endpoints.EndpointView:
    """The endpoint, if the actor may change it (others who can see it are refused; the rest get 404)."""
    view = endpoints.find_endpoint(hub, actor, owner, name)
    authorize(actor, Action.MANAGE, resource_of(view))
    return view


@router.get("/endpoints/{owner}/{name}/settings", response_class=HTMLResponse)
async def endpoint_settings(request: Request, owner: str, name: str) -> Response:
    found = await signed_in_page(request)
    if not isinstance(found, Actor):
        return found
    hub = get_hub(request)

    def work() -> Response:
        view = _managed(hub, found, owner, name)
        return _form(request, hub, found, RepoId.parse(view.model), values_of(view), endpoint=view)

    return await run_in_threadpool(work)


@router.post("/endpoints/{owner}/{name}/settings", response_class=HTMLResponse)
async def update_endpoint(request: Request, owner: str, name: str) -> Response:
    fields, actor = await form_actor(request)
    hub = get_hub(request)

    def work() -> Response:
        view = _managed(hub, actor, owner, name)
        model = RepoId.parse(view.model)
        try:
            changed = endpoints.update_endpoint(hub, actor, view.id, spec_of(fields, view))
        except HubError as exc:
            if not correctable(exc):
                raise
            return _form(request, hub, actor, model, fields, endpoint=view, error=error_of(exc), status=exc.status)
        url = summary_url(changed.owner, changed.name)
        return redirect_with_notice(request, actor, url, "Settings saved", path=url)

    return await run_in_threadpool(work)


async def _act(request: Request, owner: str, name: str, verb: str) -> Response:
    """Start, stop or delete (the page asks for a confirmation before a delete)."""
    _, actor = await form_actor(request)
    hub = get_hub(request)

    def work() -> Response:
        view = endpoints.find_endpoint(hub, actor, owner, name)
        url = summary_url(view.owner, view.name)
        if verb == "start":
            endpoints.start_endpoint(hub, actor, view.id)
            return redirect_with_notice(request, actor, url, "Endpoint starting", path=url)
        if verb == "stop":
            endpoints.stop_endpoint(hub, actor, view.id)
            return redirect_with_notice(request, actor, url, "Endpoint stopped", path=url)
        endpoints.delete_endpoint(hub, actor, view.id)
        return redirect_with_notice(request, actor, CONSOLE, "Endpoint deleted", path=CONSOLE)

    return await run_in_threadpool(work)


@router.post("/endpoints/{owner}/{name}/start", response_class=HTMLResponse)
async def start_endpoint(request: Request, owner: str, name: str) -> Response:
    return await _act(request, owner, name, "start")


@router.post("/endpoints/{owner}/{name}/stop", response_class=HTMLResponse)
async def stop_endpoint(request: Request, owner: str, name: str) -> Response:
    return await _act(request, owner, name, "stop")


@router.post("/endpoints/{owner}/{name}/delete", response_class=HTMLResponse)
async def delete_endpoint(request: Request, owner: str, name: str) -> Response:
    return await _act(request, owner, name, "delete")
