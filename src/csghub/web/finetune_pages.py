"""The portal's fine-tuning pages for experiments (the DaoCloud flow): parameter groups (`/finetune/groups`,
a list and a create form with LLaMA-Factory's names and defaults), experiments (`/finetune/experiments`, a
new-experiment form of one or more tasks, an experiment's page whose progress static/finetune.js refreshes
from the JSON API, its results side by side) and the compare chat of its deployed tasks and base model.

Every rule is services/finetune's: a refusal shows the form again with the reason next to its field."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.params import RowId
from csghub.services.compute import clusters
from csghub.services.context import Hub
from csghub.services.finetune import deploys, experiments, groups
from csghub.services.finetune.records import METRICS, SUCCEEDED, JobView
from csghub.services.permissions import Actor
from csghub.web.finetune_forms import (
    MAPPED,
    METRIC_NAMES,
    field_errors,
    loss_points,
    param_fields,
    parameters_of,
    phase_name,
    score,
    task_count,
    tasks_of,
    whole,
)
from csghub.web.finetune_forms import script_words as finetune_words
from csghub.web.forms import drop_notice, form_actor, redirect_with_notice, run_page, take_notice
from csghub.web.playground_pages import MAX_COMPARED, script_words
from csghub.web.render import correctable, language, render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
GROUPS, EXPERIMENTS = "/finetune/groups", "/finetune/experiments"
NAME_RULE = "[a-z0-9]([a-z0-9\\-]{0,61}[a-z0-9])?"  # records.check_name's rule, for the browser's own check


def experiment_url(experiment_id: int) -> str:
    return f"{EXPERIMENTS}/{experiment_id}"


@router.get("/finetune", response_class=HTMLResponse)
async def finetune_home() -> Response:
    return RedirectResponse(EXPERIMENTS, status_code=303)


def _groups_page(
    request: Request, hub: Hub, actor: Actor, values: dict[str, str], error: str = "", status: int = 200
) -> Response:
    by_field, rest = field_errors(error) if error else ({}, [])
    return render(
        request,
        "finetune_groups.html",
        status=status,
        section="groups",
        groups=groups.list_groups(hub, actor),
        fields=param_fields({k.removeprefix("p-"): v for k, v in values.items()}),
        values=values,
        field_errors=by_field,
        form_errors=rest,
        name_rule=NAME_RULE,
        notice=take_notice(request, actor),
    )


@router.get(GROUPS, response_class=HTMLResponse)
async def groups_page(request: Request) -> Response:
    hub = get_hub(request)
    return await run_page(request, lambda actor: drop_notice(request, _groups_page(request, hub, actor, {}), GROUPS))


@router.post(GROUPS, response_class=HTMLResponse)
async def create_group(request: Request) -> Response:
    fields, actor = await form_actor(request)
    hub = get_hub(request)

    def work() -> Response:
        try:
            groups.create_group(
                hub,
                actor,
                fields.get("name", "").strip(),
                parameters_of(fields),
                description=fields.get("description", "").strip(),
            )
        except HubError as exc:
            if not correctable(exc):
                raise
            return _groups_page(request, hub, actor, fields, exc.message, exc.status)
        return redirect_with_notice(request, actor, GROUPS, "Parameter group created", path=GROUPS)

    return await run_in_threadpool(work)


@router.get(EXPERIMENTS, response_class=HTMLResponse)
async def experiments_page(request: Request) -> Response:
    hub = get_hub(request)

    def work(actor: Actor) -> Response:
        found = experiments.list_experiments(hub, actor)
        return render(request, "finetune_experiments.html", section="experiments", experiments=found)

    return await run_page(request, work)


def _new_form(
    request: Request, hub: Hub, actor: Actor, values: dict[str, str], error: str = "", status: int = 200
) -> Response:
    return render(
        request,
        "finetune_experiment_new.html",
        status=status,
        section="experiments",
        values=values,
        tasks=range(task_count(values)),
        groups=groups.list_groups(hub, actor),
        clusters=clusters.list_clusters(hub, actor),
        tiers=[t for t in clusters.list_tiers(hub, actor) if t.enabled],
        metrics=METRICS,
        metric_names=METRIC_NAMES,
        mapped=MAPPED,
        name_rule=NAME_RULE,
        error=error,
    )


@router.get(EXPERIMENTS + "/new", response_class=HTMLResponse)
async def new_experiment(request: Request) -> Response:
    hub = get_hub(request)
    asked = request.query_params
    values = {"metric": "rougeL"}
    for key in ("model", "dataset", "train_file", "eval_file"):
        if asked.get(key):
            values[f"task-0-{key}"] = asked[key]
    return await run_page(request, lambda actor: _new_form(request, hub, actor, values))


@router.post(EXPERIMENTS + "/new", response_class=HTMLResponse)
async def create_experiment(request: Request) -> Response:
    fields, actor = await form_actor(request)
    hub = get_hub(request)

    def work() -> Response:
        try:
            view = experiments.create_experiment(
                hub,
                actor,
                fields.get("name", "").strip(),
                tasks_of(fields),
                metric=fields.get("metric", "rougeL"),
                description=fields.get("description", "").strip(),
            )
        except HubError as exc:
            if not correctable(exc):
                raise
            return _new_form(request, hub, actor, fields, exc.message, exc.status)
        url = experiment_url(view.id)
        return redirect_with_notice(request, actor, url, "Experiment created: its tasks start in a moment", path=url)

    return await run_in_threadpool(work)


def task_context(task: JobView) -> dict[str, Any]:
    """What a task's card shows before static/finetune.js takes over."""
    return {"task": task, "points": loss_points(task.history), "phase": phase_name(task.phase)}


@router.get(EXPERIMENTS + "/{experiment_id}", response_class=HTMLResponse)
async def experiment_page(request: Request, experiment_id: RowId) -> Response:
    hub = get_hub(request)
    url = experiment_url(experiment_id)

    def work(actor: Actor) -> Response:
        view = experiments.get_experiment(hub, actor, experiment_id)
        endpoints = {t.id: deploys.deployed(hub, actor, t.id) for t in view.tasks if t.state == SUCCEEDED}
        response = render(
            request,
            "finetune_experiment.html",
            section="experiments",
            experiment=view,
            cards=[task_context(t) for t in view.tasks],
            endpoints=endpoints,
            metrics=METRICS,
            metric_names=METRIC_NAMES,
            score=score,
            ft_words=finetune_words(language(request)),
            notice=take_notice(request, actor),
        )
        return drop_notice(request, response, url)

    return await run_page(request, work)


@router.get(EXPERIMENTS + "/{experiment_id}/compare", response_class=HTMLResponse)
async def compare_page(request: Request, experiment_id: RowId) -> Response:
    """One prompt to the base model and up to three deployed tasks, answered side by side (chat.js)."""
    hub = get_hub(request)
    url = experiment_url(experiment_id)

    def work(actor: Actor) -> Response:
        view = experiments.get_experiment(hub, actor, experiment_id)
        done = [t for t in view.tasks if t.state == SUCCEEDED]
        tuned = [(t, e) for t in done if (e := deploys.deployed(hub, actor, t.id)) is not None]
        base = deploys.deployed(hub, actor, done[0].id, base=True) if done else None
        running = [e for e in ([base] if base else []) + [e for _, e in tuned] if e.state == "running"]
        response = render(
            request,
            "finetune_compare.html",
            section="experiments",
            experiment=view,
            first=done[0] if done else None,
            base=base,
            tuned=tuned,
            running=running,
            slots=[e.name for e in running][: MAX_COMPARED + 1],
            words=script_words(language(request)),
            notice=take_notice(request, actor),
        )
        return drop_notice(request, response, url + "/compare")

    return await run_page(request, work)


@router.post(EXPERIMENTS + "/{experiment_id}/base", response_class=HTMLResponse)
async def deploy_base(request: Request, experiment_id: RowId) -> Response:
    """Deploy the base model of the experiment's task `job` (for the compare chat's first column)."""
    fields, actor = await form_actor(request)
    hub = get_hub(request)
    url = experiment_url(experiment_id) + "/compare"

    def work() -> Response:
        view = experiments.get_experiment(hub, actor, experiment_id)
        job = whole(fields.get("job"))
        task = next((t for t in view.tasks if t.id == job), None) or view.tasks[0]
        deploys.deploy_base(hub, actor, task.id)
        return redirect_with_notice(request, actor, url, "Base model deploying: it answers in a moment", path=url)

    return await run_in_threadpool(work)
