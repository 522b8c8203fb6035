"""CSGHub's own API for inference endpoints ("deploys"), as csghub-sdk's `csghub-cli inference` and
CSGHub's portal call it, in CSGHub's envelope (`{"msg": "OK", "data": ...}`):

    POST /api/v1/models/{ns}/{name}/run                    deploy a model (types.ModelRunReq)
    GET|PUT|DELETE /api/v1/models/{ns}/{name}/run/{id}     a deploy; change it (rolling); delete it
    GET  .../run/{id}/status                               its state, reason, replicas, events and metrics
    GET  .../run/{id}/logs/{instance}                      a replica's log as server-sent events, followed
    PUT  .../run/{id}/start | stop
    GET  /api/v1/user/{user}/run/model                     a user's deploys
    GET  /api/v1/models/{ns}/{name}/runtime_framework      the frameworks that fit a model
    GET  /api/v1/cluster, /api/v1/space_resources          clusters ("regions") and their tiers

Every rule is the compute service's; a deploy is found by its id and must belong to the model the path
names, so a URL never reaches another model's deploy.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.api.compute_json import (
    FINETUNE,
    INFERENCE,
    RUN_BODY,
    cluster_json,
    deploy_json,
    framework_json,
    run_spec,
    tier_json,
)
from csghub.api.compute_logs import LOG_RESPONSES, log_stream
from csghub.api.finetune_json import instance_json
from csghub.api.serialize import iso, ok
from csghub.core.errors import NotFound
from csghub.core.names import RepoId
from csghub.http.bodies import read_json_object
from csghub.http.deps import base_url, get_actor, get_hub
from csghub.http.openapi import API_ERRORS, TEXT, WHOLE, WRITE_ERRORS, query
from csghub.http.params import MAX_INDEX, RowId, whole_number
from csghub.services.compute import clusters, endpoints, frameworks
from csghub.services.compute.endpoints import EndpointView
from csghub.services.finetune import instances
from csghub.services.permissions import Actor

router = APIRouter(responses=API_ERRORS)
RUN = "/api/v1/models/{namespace}/{name}/run"
PAGES = query(per=WHOLE, page=WHOLE, deploy_type=WHOLE)


def _model(namespace: str, name: str) -> RepoId:
    return RepoId.of(namespace, name)


def _deploy(request: Request, actor: Actor, namespace: str, name: str, deploy_id: int) -> EndpointView:
    """The deploy, if the actor may see it and it was made from the model the path names."""
    model = _model(namespace, name)
    view = endpoints.get_endpoint(get_hub(request), actor, deploy_id)
    if view.model.lower() != str(model).lower():
        raise NotFound(f"Deploy #{deploy_id} not found for model {model}", code="EndpointNotFound")
    return view


@router.post(RUN, responses=WRITE_ERRORS, openapi_extra=RUN_BODY)
async def deploy(request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    model = _model(namespace, name)
    spec = run_spec(await read_json_object(request))
    view = await run_in_threadpool(endpoints.create_endpoint, get_hub(request), actor, model, spec)
    return ok(deploy_json(view, base_url(request)))


@router.get(RUN, openapi_extra=PAGES)
async def list_model_deploys(
    request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    model = _model(namespace, name)
    views = await run_in_threadpool(lambda: endpoints.list_endpoints(get_hub(request), actor, model=model))
    return _page(request, views)


@router.get(RUN + "/{deploy_id}")
async def deploy_detail(
    request: Request, namespace: str, name: str, deploy_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    view = await run_in_threadpool(_deploy, request, actor, namespace, name, deploy_id)
    return ok(deploy_json(view, base_url(request)))


@router.put(RUN + "/{deploy_id}", responses=WRITE_ERRORS, openapi_extra=RUN_BODY)
async def update_deploy(
    request: Request, namespace: str, name: str, deploy_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    body = await read_json_object(request, optional=True)

    def work() -> EndpointView:
        current = _deploy(request, actor, namespace, name, deploy_id)
        return endpoints.update_endpoint(get_hub(request), actor, deploy_id, run_spec(body, current))

    return ok(deploy_json(await run_in_threadpool(work), base_url(request)))


@router.delete(RUN + "/{deploy_id}", responses=WRITE_ERRORS)
async def delete_deploy(
    request: Request, namespace: str, name: str, deploy_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    def work() -> None:
        _deploy(request, actor, namespace, name, deploy_id)
        endpoints.delete_endpoint(get_hub(request), actor, deploy_id)

    await run_in_threadpool(work)
    return ok(None)


async def _change(
    request: Request, actor: Actor, namespace: str, name: str, deploy_id: int, start: bool
) -> JSONResponse:
    def work() -> EndpointView:
        _deploy(request, actor, namespace, name, deploy_id)
        change = endpoints.start_endpoint if start else endpoints.stop_endpoint
        return change(get_hub(request), actor, deploy_id)

    return ok(deploy_json(await run_in_threadpool(work), base_url(request)))


@router.put(RUN + "/{deploy_id}/start", responses=WRITE_ERRORS)
async def start_deploy(
    request: Request, namespace: str, name: str, deploy_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    return await _change(request, actor, namespace, name, deploy_id, start=True)


@router.put(RUN + "/{deploy_id}/stop", responses=WRITE_ERRORS)
async def stop_deploy(
    request: Request, namespace: str, name: str, deploy_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    return await _change(request, actor, namespace, name, deploy_id, start=False)


@router.get(RUN + "/{deploy_id}/status", openapi_extra=query(after=WHOLE))
async def deploy_status(
    request: Request, namespace: str, name: str, deploy_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    after = whole_number(request.query_params.get("after"), "after", maximum=2**31 - 1) or 0

    def work() -> dict[str, Any]:
        view = _deploy(request, actor, namespace, name, deploy_id)
        events = endpoints.endpoint_events(get_hub(request), actor, deploy_id, after=after)
        metrics = endpoints.endpoint_metrics(get_hub(request), actor, deploy_id)
        shown = deploy_json(view, base_url(request))
        return {
            **{key: shown[key] for key in ("deploy_id", "status", "state", "reason", "actual_replica", "instances")},
            "events": [{"at": iso(e.at), "level": e.level, "message": e.message} for e in events],
            "metrics": dict(metrics),
        }

    return ok(await run_in_threadpool(work))


@router.get(
    RUN + "/{deploy_id}/logs/{instance}",
    response_class=Response,
    responses=LOG_RESPONSES,
    openapi_extra=query(offset=WHOLE, follow={"type": "boolean"}, since=TEXT),
)
async def deploy_logs(
    request: Request, namespace: str, name: str, deploy_id: RowId, instance: str, actor: Actor = Depends(get_actor)
) -> Response:
    if not (instance.isascii() and instance.isdigit() and len(instance) <= 3):
        raise NotFound(f"Instance '{instance}' not found: instances are named by their number, 0 and up")
    replica = int(instance)
    await run_in_threadpool(_deploy, request, actor, namespace, name, deploy_id)
    return await log_stream(request, actor, deploy_id, replica)


@router.get("/api/v1/user/{user}/run/{repo_type}", openapi_extra=PAGES)
async def user_deploys(request: Request, user: str, repo_type: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    deploy_type = whole_number(request.query_params.get("deploy_type"), "deploy_type") or INFERENCE
    RepoId.of(user, "x")  # a user name that cannot exist is a 400, like everywhere
    if repo_type == "model" and deploy_type == FINETUNE:
        found = await run_in_threadpool(lambda: instances.list_instances(get_hub(request), actor, owner=user))
        per = whole_number(request.query_params.get("per"), "per", maximum=1000) or 50
        page = max(1, whole_number(request.query_params.get("page"), "page", maximum=MAX_INDEX) or 1)
        shown = [instance_json(v) for v in found][(page - 1) * per : page * per]
        return JSONResponse({"msg": "OK", "data": shown, "total": len(found)})
    if repo_type != "model" or deploy_type != INFERENCE:
        return _page(request, [])  # spaces and the like do not exist here yet
    views = await run_in_threadpool(lambda: endpoints.list_endpoints(get_hub(request), actor, owner=user))
    return _page(request, views)


def _page(request: Request, views: list[EndpointView]) -> JSONResponse:
    per = whole_number(request.query_params.get("per"), "per", maximum=1000) or 50
    page = max(1, whole_number(request.query_params.get("page"), "page", maximum=MAX_INDEX) or 1)
    start = min((page - 1) * per, len(views))
    base = base_url(request)
    data = [deploy_json(v, base) for v in views[start : start + per]]
    return JSONResponse({"msg": "OK", "data": data, "total": len(views)})


@router.get(
    "/api/v1/models/{namespace}/{name}/runtime_framework", openapi_extra=query(revision=TEXT, deploy_type=WHOLE)
)
async def model_frameworks(
    request: Request, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    """deploy_type 1 (the default): what can serve the model; 2: what can fine-tune it."""
    model = _model(namespace, name)
    revision = request.query_params.get("revision") or None
    deploy_type = whole_number(request.query_params.get("deploy_type"), "deploy_type") or INFERENCE
    purpose = "finetune" if deploy_type == FINETUNE else "serve"
    found = await run_in_threadpool(
        partial(frameworks.frameworks_for_model, purpose=purpose), get_hub(request), actor, model, revision
    )
    return ok([framework_json(f) for f in found])


@router.get("/api/v1/cluster")
async def list_clusters(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    found = await run_in_threadpool(clusters.list_clusters, get_hub(request), actor)
    return ok([cluster_json(c) for c in found])


@router.get("/api/v1/space_resources", openapi_extra=query(cluster_id=TEXT, deploy_type=WHOLE, per=WHOLE, page=WHOLE))
async def list_resources(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    cluster_id = whole_number(request.query_params.get("cluster_id"), "cluster_id", maximum=2**31 - 1)
    hub = get_hub(request)

    def work() -> list[dict[str, Any]]:
        regions = {c.id: c.region for c in clusters.list_clusters(hub, actor)}
        tiers = clusters.list_tiers(hub, actor, cluster_id)
        return [tier_json(t, regions.get(t.cluster_id, "")) for t in tiers if t.cluster_id in regions]

    return ok(await run_in_threadpool(work))
