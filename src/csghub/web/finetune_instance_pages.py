"""The portal's fine-tune instances (the OpenCSG flow): "Fine-tune" on a model page opens a new-instance
form (`/finetune/instances/new?model=ns/name`: a unique name, region = cluster, resources = tier, runtime
framework = LLaMA-Factory); an instance's page holds its parameters form, Start and Stop, the run's progress
and log (static/finetune.js), and a chat tab that loads or unloads the base or the fine-tuned model
(services/finetune/deploys.py) and chats with it through the gateway (static/chat.js)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, InvalidArgument, NotFound
from csghub.core.names import RepoId
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.params import RowId
from csghub.services.compute import clusters, frameworks
from csghub.services.compute.endpoints import EndpointView
from csghub.services.context import Hub
from csghub.services.finetune import deploys, instances
from csghub.services.finetune.jobs import ENGINE
from csghub.services.permissions import Actor
from csghub.web.finetune_forms import MAPPED, field_errors, param_fields, settings_of, whole
from csghub.web.finetune_forms import script_words as finetune_words
from csghub.web.finetune_pages import NAME_RULE, task_context
from csghub.web.forms import drop_notice, form_actor, redirect_with_notice, run_page, signed_in_page, take_notice
from csghub.web.playground_pages import ChatTarget, script_words
from csghub.web.render import correctable, language, render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
INSTANCES = "/finetune/instances"
WHICH: tuple[deploys.Which, ...] = ("base", "finetuned")


def instance_url(instance_id: int) -> str:
    return f"{INSTANCES}/{instance_id}"


def _model_of(text: str) -> RepoId:
    try:
        return RepoId.parse(text.strip())
    except InvalidArgument:
        raise NotFound("Page not found") from None


@router.get(INSTANCES, response_class=HTMLResponse)
async def instances_page(request: Request) -> Response:
    hub = get_hub(request)

    def work(actor: Actor) -> Response:
        found = instances.list_instances(hub, actor)
        return render(request, "finetune_instances.html", section="instances", instances=found)

    return await run_page(request, work)


def _new_form(
    request: Request, hub: Hub, actor: Actor, model: RepoId, values: dict[str, str], error: str = "", status: int = 200
) -> Response:
    return render(
        request,
        "finetune_instance_new.html",
        status=status,
        section="instances",
        model=str(model),
        values=values,
        clusters=clusters.list_clusters(hub, actor),
        tiers=[t for t in clusters.list_tiers(hub, actor) if t.enabled],
        frameworks=[f for f in frameworks.list_frameworks(hub, actor) if f.engine == ENGINE and f.enabled],
        name_rule=NAME_RULE,
        error=error,
    )


@router.get(INSTANCES + "/new", response_class=HTMLResponse)
async def new_instance(request: Request) -> Response:
    found = await signed_in_page(request)
    if not isinstance(found, Actor):
        back = quote(f"{INSTANCES}/new?model={request.query_params.get('model', '')}", safe="/")
        return RedirectResponse(f"/login?next={back}", 303)
    model = _model_of(request.query_params.get("model", ""))
    name = "-".join(model.name.lower().replace("_", "-").replace(".", "-").split("-"))[:40].strip("-")
    return await run_in_threadpool(_new_form, request, get_hub(request), found, model, {"name": f"{name}-ft"})


@router.post(INSTANCES + "/new", response_class=HTMLResponse)
async def create_instance(request: Request) -> Response:
    fields, actor = await form_actor(request)
    hub = get_hub(request)
    model = _model_of(fields.get("model", ""))

    def work() -> Response:
        try:
            view = instances.create_instance(
                hub,
                actor,
                model,
                fields.get("name", "").strip(),
                cluster_id=whole(fields.get("cluster_id")),
                tier_id=whole(fields.get("tier_id")),
                framework_id=whole(fields.get("framework_id")),
            )
        except HubError as exc:
            if not correctable(exc) or exc.code == "RepoNotFound":
                raise
            return _new_form(request, hub, actor, model, fields, exc.message, exc.status)
        url = instance_url(view.id)
        return redirect_with_notice(request, actor, url, "Fine-tune instance created", path=url)

    return await run_in_threadpool(work)


def _chat_targets(loaded: Mapping[deploys.Which, EndpointView | None]) -> list[ChatTarget]:
    targets = []
    for view in loaded.values():
        if view is not None and view.state == "running":
            path = f"/endpoints/{view.owner}/{view.name}"
            targets.append(ChatTarget(f"{view.owner}/{view.name}", view.model, f"{path}/v1", path))
    return targets


def _instance_page(
    request: Request, hub: Hub, actor: Actor, instance_id: int, values: dict[str, str] | None = None, error: str = ""
) -> Response:
    view = instances.get_instance(hub, actor, instance_id)
    settings = view.settings
    form = values if values is not None else _form_values(settings)
    by_field, rest = field_errors(error) if error else ({}, [])
    loaded = {which: deploys.loaded(hub, actor, instance_id, which) for which in WHICH}
    job = view.last_job
    return render(
        request,
        "finetune_instance.html",
        status=400 if error else 200,
        section="instances",
        instance=view,
        values=form,
        fields=param_fields({k.removeprefix("p-"): v for k, v in form.items() if k.startswith("p-")}),
        mapped=MAPPED,
        field_errors=by_field,
        form_errors=rest,
        card=task_context(job) if job is not None else None,
        loaded=loaded,
        notebook=deploys.notebook_of(hub, actor, instance_id),
        targets=_chat_targets(loaded),
        words=script_words(language(request)),
        ft_words=finetune_words(language(request)),
        notice=take_notice(request, actor),
    )


def _form_values(settings: dict[str, Any]) -> dict[str, str]:
    values = {k: str(settings.get(k) or "") for k in ("dataset", "train_file", "eval_file")}
    values.update({f"map-{k}": str(v) for k, v in (settings.get("mapping") or {}).items()})
    values.update({f"p-{k}": str(v) for k, v in (settings.get("parameters") or {}).items()})
    if settings.get("merge"):
        values["merge"] = "on"
    return values


@router.get(INSTANCES + "/{instance_id}", response_class=HTMLResponse)
async def instance_page(request: Request, instance_id: RowId) -> Response:
    hub = get_hub(request)
    url = instance_url(instance_id)
    return await run_page(
        request, lambda actor: drop_notice(request, _instance_page(request, hub, actor, instance_id), url)
    )


@router.post(INSTANCES + "/{instance_id}/settings", response_class=HTMLResponse)
async def save_settings(request: Request, instance_id: RowId) -> Response:
    """Save the parameters form; its Start button saves, then starts a run with them."""
    fields, actor = await form_actor(request)
    hub = get_hub(request)
    url = instance_url(instance_id)

    def work() -> Response:
        try:
            instances.update_instance(hub, actor, instance_id, settings_of(fields))
            if fields.get("action") == "start":
                instances.start_instance(hub, actor, instance_id)
        except HubError as exc:
            if not correctable(exc) or exc.status == 404:
                raise
            return _instance_page(request, hub, actor, instance_id, fields, exc.message)
        said = "Training started" if fields.get("action") == "start" else "Settings saved"
        return redirect_with_notice(request, actor, url, said, path=url)

    return await run_in_threadpool(work)


@router.post(INSTANCES + "/{instance_id}/stop", response_class=HTMLResponse)
async def stop_instance(request: Request, instance_id: RowId) -> Response:
    _, actor = await form_actor(request)
    hub = get_hub(request)
    url = instance_url(instance_id)

    def work() -> Response:
        instances.stop_instance(hub, actor, instance_id)
        return redirect_with_notice(request, actor, url, "Training stopped", path=url)

    return await run_in_threadpool(work)


async def _chat_model(request: Request, instance_id: int, load: bool) -> Response:
    fields, actor = await form_actor(request)
    hub = get_hub(request)
    url = instance_url(instance_id)
    which: deploys.Which = "finetuned" if fields.get("which") == "finetuned" else "base"

    def work() -> Response:
        try:
            if load:
                deploys.load_model(hub, actor, instance_id, which)
            else:
                deploys.unload_model(hub, actor, instance_id, which)
        except HubError as exc:
            if not correctable(exc) or exc.status == 404:
                raise
            return redirect_with_notice(request, actor, url + "#chat", exc.message, path=url)
        said = "Model loading: the chat opens once it runs" if load else "Model unloaded"
        return redirect_with_notice(request, actor, url + "#chat", said, path=url)

    return await run_in_threadpool(work)


@router.post(INSTANCES + "/{instance_id}/load", response_class=HTMLResponse)
async def load_model(request: Request, instance_id: RowId) -> Response:
    return await _chat_model(request, instance_id, True)


@router.post(INSTANCES + "/{instance_id}/unload", response_class=HTMLResponse)
async def unload_model(request: Request, instance_id: RowId) -> Response:
    return await _chat_model(request, instance_id, False)


@router.post(INSTANCES + "/{instance_id}/notebook", response_class=HTMLResponse)
async def start_notebook(request: Request, instance_id: RowId) -> Response:
    """Start Notebook: a JupyterLab with the instance's model and dataset; it opens from the page once it runs."""
    _, actor = await form_actor(request)
    hub = get_hub(request)
    url = instance_url(instance_id)

    def work() -> Response:
        deploys.open_notebook(hub, actor, instance_id)
        return redirect_with_notice(request, actor, url, "Notebook starting: open it once it runs", path=url)

    return await run_in_threadpool(work)
