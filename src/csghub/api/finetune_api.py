"""CSGHub's API for fine-tuning, in CSGHub's envelope (`{"msg": "OK", "data": ...}`):

    POST /api/v1/models/{ns}/{name}/finetune                 a fine-tune instance on a model
    GET  /api/v1/models/{ns}/{name}/finetune[/{id}]          its instances; one
    PUT|DELETE /api/v1/models/{ns}/{name}/finetune/{id}      change its settings; delete it
    PUT  .../finetune/{id}/start | stop                      start a training run; stop it
    GET  .../finetune/{id}/logs/{instance}                   the run's log (text; ?offset=)
    GET  /api/v1/user/{user}/finetune/instances              a user's instances (csghub-cli finetune list)
    POST|GET /api/v1/finetunes, GET|DELETE /api/v1/finetunes/{id}, PUT .../stop, GET .../logs
    POST|GET /api/v1/finetune/parameter_groups, GET|PUT|DELETE .../{id}
    POST|GET /api/v1/finetune/experiments, GET|DELETE .../{id}, PUT .../{id}/stop
    GET  /api/v1/datasets/{ns}/{name}/finetune/files|preview  training files; one as a task would read it
    PUT  /api/v1/finetunes/{id}/deploy                       an endpoint serving the task's model
    PUT  .../finetune/{id}/load|unload?model=base|finetuned  the instance's chat tab: its endpoints
    PUT  .../finetune/{id}/notebook                       Start Notebook (JupyterLab with its model and dataset)

Every rule is services/finetune's; an instance is found by its id and must belong to the model the path names.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.api.compute_json import deploy_json
from csghub.api.finetune_json import (
    EXPERIMENT_BODY,
    GROUP_BODY,
    INSTANCE_BODY,
    JOB_BODY,
    experiment_json,
    group_json,
    id_field,
    instance_json,
    instance_settings,
    job_json,
    job_request,
    object_field,
    preview_json,
)
from csghub.api.notebooks_api import notebook_json
from csghub.api.serialize import ok
from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoId
from csghub.http.bodies import optional_text_field, read_json_object, text_field
from csghub.http.deps import base_url, get_actor, get_hub
from csghub.http.openapi import API_ERRORS, TEXT, WHOLE, WRITE_ERRORS, query
from csghub.http.params import MAX_INDEX, RowId, whole_number
from csghub.services.finetune import deploys, experiments, groups, instances, jobs
from csghub.services.permissions import Actor

router = APIRouter(responses=API_ERRORS)
INSTANCES = "/api/v1/models/{namespace}/{name}/finetune"
PAGES = query(per=WHOLE, page=WHOLE)
LOG_QUERY = query(offset=WHOLE)
TEXT_LOG: dict[int | str, dict[str, Any]] = {200: {"content": {"text/plain": {}}, "description": "The log"}}


def _page(request: Request, items: list[dict[str, Any]]) -> JSONResponse:
    per = whole_number(request.query_params.get("per"), "per", maximum=1000) or 50
    page = max(1, whole_number(request.query_params.get("page"), "page", maximum=MAX_INDEX) or 1)
    start = min((page - 1) * per, len(items))
    return JSONResponse({"msg": "OK", "data": items[start : start + per], "total": len(items)})


def _offset(request: Request) -> int:
    return whole_number(request.query_params.get("offset"), "offset") or 0


# Fine-tune instances (OpenCSG's flow; csghub-cli finetune list/start/stop).


@router.post(INSTANCES, responses=WRITE_ERRORS, openapi_extra=INSTANCE_BODY)
async def create_instance(
    request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    body = await read_json_object(request)
    view = await run_in_threadpool(
        instances.create_instance,
        get_hub(request),
        actor,
        RepoId.of(namespace, name),
        text_field(body, "deploy_name", required=True),
        cluster_id=id_field(body, "cluster_id"),
        tier_id=id_field(body, "resource_id"),
        framework_id=id_field(body, "runtime_framework_id"),
        settings=instance_settings(body),
    )
    return ok(instance_json(view))


@router.get(INSTANCES, openapi_extra=PAGES)
async def model_instances(
    request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    model = RepoId.of(namespace, name)
    views = await run_in_threadpool(lambda: instances.list_instances(get_hub(request), actor, model=model))
    return _page(request, [instance_json(v) for v in views])


@router.get(INSTANCES + "/{instance_id}")
async def instance_detail(
    request: Request, namespace: str, name: str, instance_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    model = RepoId.of(namespace, name)
    view = await run_in_threadpool(instances.get_instance, get_hub(request), actor, instance_id, model)
    return ok(instance_json(view))


@router.put(INSTANCES + "/{instance_id}", responses=WRITE_ERRORS, openapi_extra=INSTANCE_BODY)
async def update_instance(
    request: Request, namespace: str, name: str, instance_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    settings = instance_settings(await read_json_object(request, optional=True))
    model = RepoId.of(namespace, name)
    view = await run_in_threadpool(instances.update_instance, get_hub(request), actor, instance_id, settings, model)
    return ok(instance_json(view))


@router.delete(INSTANCES + "/{instance_id}", responses=WRITE_ERRORS)
async def delete_instance(
    request: Request, namespace: str, name: str, instance_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    model = RepoId.of(namespace, name)
    await run_in_threadpool(instances.delete_instance, get_hub(request), actor, instance_id, model)
    return ok(None)


@router.put(INSTANCES + "/{instance_id}/start", responses=WRITE_ERRORS)
async def start_instance(
    request: Request, namespace: str, name: str, instance_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    model = RepoId.of(namespace, name)
    view = await run_in_threadpool(instances.start_instance, get_hub(request), actor, instance_id, model)
    return ok(instance_json(view))


@router.put(INSTANCES + "/{instance_id}/stop", responses=WRITE_ERRORS)
async def stop_instance(
    request: Request, namespace: str, name: str, instance_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    model = RepoId.of(namespace, name)
    view = await run_in_threadpool(instances.stop_instance, get_hub(request), actor, instance_id, model)
    return ok(instance_json(view))


@router.get(
    INSTANCES + "/{instance_id}/logs/{instance}",
    response_class=Response,
    responses=TEXT_LOG,
    openapi_extra=LOG_QUERY,
)
async def instance_logs(
    request: Request, namespace: str, name: str, instance_id: RowId, instance: str, actor: Actor = Depends(get_actor)
) -> Response:
    """The log of the instance's last run (`instance` names the run's process; CSGHub's clients send 0)."""
    model = RepoId.of(namespace, name)
    offset = _offset(request)

    def work() -> bytes:
        view = instances.get_instance(get_hub(request), actor, instance_id, model)
        if view.last_job is None:
            return b""
        return jobs.read_job_log(get_hub(request), actor, view.last_job.id, offset)

    return Response(await run_in_threadpool(work), media_type="text/plain; charset=utf-8")


@router.get("/api/v1/user/{user}/finetune/instances", openapi_extra=PAGES)
async def user_instances(request: Request, user: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    RepoId.of(user, "x")  # a user name that cannot exist is a 400, like everywhere
    views = await run_in_threadpool(lambda: instances.list_instances(get_hub(request), actor, owner=user))
    return _page(request, [instance_json(v) for v in views])


# Fine-tune jobs (CSGHub's /finetunes).


@router.post("/api/v1/finetunes", responses=WRITE_ERRORS, openapi_extra=JOB_BODY)
async def create_job(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    spec = job_request(await read_json_object(request))
    view = await run_in_threadpool(jobs.create_job, get_hub(request), actor, spec)
    return ok(job_json(view))


@router.get("/api/v1/finetunes", openapi_extra=query(owner=TEXT, experiment_id=WHOLE, per=WHOLE, page=WHOLE))
async def list_jobs(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    owner = request.query_params.get("owner") or None
    experiment = whole_number(request.query_params.get("experiment_id"), "experiment_id")
    views = await run_in_threadpool(
        lambda: jobs.list_jobs(get_hub(request), actor, owner=owner, experiment_id=experiment)
    )
    return _page(request, [job_json(v) for v in views])


@router.get("/api/v1/finetunes/{job_id}")
async def job_detail(request: Request, job_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return ok(job_json(await run_in_threadpool(jobs.get_job, get_hub(request), actor, job_id)))


@router.put("/api/v1/finetunes/{job_id}/stop", responses=WRITE_ERRORS)
async def stop_job(request: Request, job_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return ok(job_json(await run_in_threadpool(jobs.cancel_job, get_hub(request), actor, job_id)))


@router.delete("/api/v1/finetunes/{job_id}", responses=WRITE_ERRORS)
async def delete_job(request: Request, job_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    await run_in_threadpool(jobs.delete_job, get_hub(request), actor, job_id)
    return ok(None)


@router.get("/api/v1/finetunes/{job_id}/logs", response_class=Response, responses=TEXT_LOG, openapi_extra=LOG_QUERY)
async def job_logs(request: Request, job_id: RowId, actor: Actor = Depends(get_actor)) -> Response:
    data = await run_in_threadpool(jobs.read_job_log, get_hub(request), actor, job_id, _offset(request))
    return Response(data, media_type="text/plain; charset=utf-8")


# Parameter groups and experiments (the seeds' second flow).


@router.post("/api/v1/finetune/parameter_groups", responses=WRITE_ERRORS, openapi_extra=GROUP_BODY)
async def create_group(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    view = await run_in_threadpool(
        groups.create_group,
        get_hub(request),
        actor,
        text_field(body, "name", required=True),
        object_field(body, "parameters"),
        description=text_field(body, "description"),
        owner=optional_text_field(body, "owner_namespace") or None,
    )
    return ok(group_json(view))


@router.get("/api/v1/finetune/parameter_groups", openapi_extra=query(owner=TEXT, per=WHOLE, page=WHOLE))
async def list_groups(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    owner = request.query_params.get("owner") or None
    views = await run_in_threadpool(lambda: groups.list_groups(get_hub(request), actor, owner=owner))
    return _page(request, [group_json(v) for v in views])


@router.get("/api/v1/finetune/parameter_groups/{group_id}")
async def group_detail(request: Request, group_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return ok(group_json(await run_in_threadpool(groups.get_group, get_hub(request), actor, group_id)))


@router.put("/api/v1/finetune/parameter_groups/{group_id}", responses=WRITE_ERRORS, openapi_extra=GROUP_BODY)
async def update_group(request: Request, group_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    values = object_field(body, "parameters") if body.get("parameters") is not None else None
    description = optional_text_field(body, "description")
    view = await run_in_threadpool(groups.update_group, get_hub(request), actor, group_id, values, description)
    return ok(group_json(view))


@router.delete("/api/v1/finetune/parameter_groups/{group_id}", responses=WRITE_ERRORS)
async def delete_group(request: Request, group_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    await run_in_threadpool(groups.delete_group, get_hub(request), actor, group_id)
    return ok(None)


@router.post("/api/v1/finetune/experiments", responses=WRITE_ERRORS, openapi_extra=EXPERIMENT_BODY)
async def create_experiment(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    tasks = body.get("tasks")
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise InvalidArgument("Field 'tasks' must be a list of task objects")
    owner = optional_text_field(body, "owner_namespace") or None
    view = await run_in_threadpool(
        experiments.create_experiment,
        get_hub(request),
        actor,
        text_field(body, "name", required=True),
        [job_request(t, owner=owner) for t in tasks],
        metric=text_field(body, "metric", default="rougeL"),
        description=text_field(body, "description"),
        owner=owner,
    )
    return ok(experiment_json(view))


@router.get("/api/v1/finetune/experiments", openapi_extra=query(owner=TEXT, per=WHOLE, page=WHOLE))
async def list_experiments(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    owner = request.query_params.get("owner") or None
    views = await run_in_threadpool(lambda: experiments.list_experiments(get_hub(request), actor, owner=owner))
    return _page(request, [experiment_json(v) for v in views])


@router.get("/api/v1/finetune/experiments/{experiment_id}")
async def experiment_detail(request: Request, experiment_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    view = await run_in_threadpool(experiments.get_experiment, get_hub(request), actor, experiment_id)
    return ok(experiment_json(view))


@router.put("/api/v1/finetune/experiments/{experiment_id}/stop", responses=WRITE_ERRORS)
async def stop_experiment(request: Request, experiment_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    view = await run_in_threadpool(experiments.cancel_experiment, get_hub(request), actor, experiment_id)
    return ok(experiment_json(view))


@router.delete("/api/v1/finetune/experiments/{experiment_id}", responses=WRITE_ERRORS)
async def delete_experiment(request: Request, experiment_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    await run_in_threadpool(experiments.delete_experiment, get_hub(request), actor, experiment_id)
    return ok(None)


# From a result to a model that answers: deploy, and the instance's chat tab.


@router.put("/api/v1/finetunes/{job_id}/deploy", responses=WRITE_ERRORS, openapi_extra=query(deploy_name=TEXT))
async def deploy_job(request: Request, job_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    name = request.query_params.get("deploy_name") or None
    view = await run_in_threadpool(lambda: deploys.deploy_job(get_hub(request), actor, job_id, name=name))
    return ok(deploy_json(view, base_url(request)))


def _which(request: Request) -> deploys.Which:
    which = request.query_params.get("model") or "base"
    if which not in ("base", "finetuned"):
        raise InvalidArgument("Query 'model' is 'base' or 'finetuned'")
    return "base" if which == "base" else "finetuned"


@router.put(INSTANCES + "/{instance_id}/load", responses=WRITE_ERRORS, openapi_extra=query(model=TEXT))
async def load_model(
    request: Request, namespace: str, name: str, instance_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    which, model = _which(request), RepoId.of(namespace, name)
    view = await run_in_threadpool(deploys.load_model, get_hub(request), actor, instance_id, which, model)
    return ok(deploy_json(view, base_url(request)))


@router.put(INSTANCES + "/{instance_id}/unload", responses=WRITE_ERRORS, openapi_extra=query(model=TEXT))
async def unload_model(
    request: Request, namespace: str, name: str, instance_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    which, model = _which(request), RepoId.of(namespace, name)
    await run_in_threadpool(deploys.unload_model, get_hub(request), actor, instance_id, which, model)
    return ok(None)


# Training data, as a task would read it.


@router.get("/api/v1/datasets/{namespace}/{name}/finetune/files", openapi_extra=query(revision=TEXT))
async def training_files(
    request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    dataset, revision = str(RepoId.of(namespace, name)), request.query_params.get("revision") or None
    found = await run_in_threadpool(jobs.training_files, get_hub(request), actor, dataset, revision)
    return ok(found)


@router.get(
    "/api/v1/datasets/{namespace}/{name}/finetune/preview",
    openapi_extra=query("path", path=TEXT, revision=TEXT, mapping=TEXT),
)
async def preview_training_file(
    request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    path = request.query_params.get("path") or ""
    if not path:
        raise InvalidArgument("Query 'path' names the file to preview")
    raw = request.query_params.get("mapping") or ""
    mapping = object_field({"mapping": raw}, "mapping") if raw else None
    dataset, revision = str(RepoId.of(namespace, name)), request.query_params.get("revision") or None
    found = await run_in_threadpool(
        jobs.preview_training_file, get_hub(request), actor, dataset, path, mapping, revision
    )
    return ok(preview_json(found))


@router.put(INSTANCES + "/{instance_id}/notebook", responses=WRITE_ERRORS)
async def open_notebook(
    request: Request, namespace: str, name: str, instance_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    """Start Notebook: a JupyterLab with the instance's model and dataset, at the answer's `url`."""
    model = RepoId.of(namespace, name)
    view = await run_in_threadpool(deploys.open_notebook, get_hub(request), actor, instance_id, model)
    return ok(notebook_json(view, base_url(request)))
