"""CSGHub's mirror routes, in its envelope (`{"msg": "OK", "data": ...}`):

    POST|GET|PUT|DELETE /api/v1/{type}s/{ns}/{name}/mirror   create a mirror into the new repository
                                                              ns/name; see it; interval/pause; stop mirroring
    POST /api/v1/{type}s/{ns}/{name}/mirror/sync              sync now (returns the task)
    GET  /api/v1/mirrors                                      every mirror (site administrators; ?source, ?state)
    GET  /api/v1/mirror/repos                                 the mirrors the caller can see
    GET  /api/v1/mirror/tasks                                 sync tasks (site administrators; ?state, ?mirror_id)
    GET  /api/v1/mirror/tasks/{id}/logs                       what the task's sync jobs printed
    POST /api/v1/mirror/tasks/{id}/cancel | retry
    POST /api/v1/mirror/batch                                 one mirror per upstream repository

Every rule is services/mirrors'; the sources' routes are api/mirror_sources_api.py's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.mirrors_json import (
    BATCH_BODY,
    CREATE_BODY,
    UPDATE_BODY,
    batch_spec,
    mirror_json,
    mirror_spec,
    task_json,
    update_fields,
)
from csghub.api.serialize import ok
from csghub.core.names import RepoId, RepoType
from csghub.http.bodies import read_json_object
from csghub.http.deps import get_actor, get_hub
from csghub.http.openapi import API_ERRORS, TEXT, WHOLE, WRITE_ERRORS, query
from csghub.http.params import MAX_ID, MAX_INDEX, RowId, whole_number
from csghub.services.mirrors import mirrors
from csghub.services.permissions import Actor

router = APIRouter(responses=API_ERRORS)
REPO_MIRROR = "/api/v1/{type_plural:repo_type}/{namespace}/{name}/mirror"
PAGES = query(page=WHOLE, per=WHOLE, state=TEXT, source=TEXT)


def _repo(type_plural: str, namespace: str, name: str) -> tuple[RepoType, RepoId]:
    return RepoType.parse(type_plural), RepoId.of(namespace, name)


def _paging(request: Request) -> dict[str, Any]:
    params = request.query_params
    return {
        "page": max(1, whole_number(params.get("page"), "page", maximum=MAX_INDEX) or 1),
        "per_page": whole_number(params.get("per"), "per", maximum=mirrors.MAX_PAGE) or 50,
        "state": params.get("state") or None,
    }


def _listed(items: list[dict[str, Any]], total: int) -> JSONResponse:
    return JSONResponse({"msg": "OK", "data": items, "total": total})


@router.post(REPO_MIRROR, responses=WRITE_ERRORS, openapi_extra=CREATE_BODY)
async def create_mirror(
    request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    repo_type, target = _repo(type_plural, namespace, name)
    spec = mirror_spec(await read_json_object(request), repo_type, target)
    view = await run_in_threadpool(mirrors.create_mirror, get_hub(request), actor, spec)
    return ok(mirror_json(view))


@router.get(REPO_MIRROR)
async def get_mirror(
    request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    view = await run_in_threadpool(mirrors.get_mirror, get_hub(request), actor, *_repo(type_plural, namespace, name))
    return ok(mirror_json(view))


@router.put(REPO_MIRROR, responses=WRITE_ERRORS, openapi_extra=UPDATE_BODY)
async def update_mirror(
    request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    interval, paused = update_fields(await read_json_object(request, optional=True))
    repo_type, repo_id = _repo(type_plural, namespace, name)
    view = await run_in_threadpool(
        lambda: mirrors.update_mirror(
            get_hub(request), actor, repo_type, repo_id, interval_seconds=interval, paused=paused
        )
    )
    return ok(mirror_json(view))


@router.delete(REPO_MIRROR, responses=WRITE_ERRORS)
async def delete_mirror(
    request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    await run_in_threadpool(mirrors.delete_mirror, get_hub(request), actor, *_repo(type_plural, namespace, name))
    return ok(None)


@router.post(REPO_MIRROR + "/sync", responses=WRITE_ERRORS)
async def sync_now(
    request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    view = await run_in_threadpool(mirrors.sync_now, get_hub(request), actor, *_repo(type_plural, namespace, name))
    return ok(task_json(view))


@router.get("/api/v1/mirrors", openapi_extra=PAGES)
async def list_all_mirrors(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    source = request.query_params.get("source") or None
    views, total = await run_in_threadpool(
        lambda: mirrors.list_mirrors(get_hub(request), actor, source=source, every=True, **_paging(request))
    )
    return _listed([mirror_json(v) for v in views], total)


@router.get("/api/v1/mirror/repos", openapi_extra=PAGES)
async def list_visible_mirrors(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    source = request.query_params.get("source") or None
    views, total = await run_in_threadpool(
        lambda: mirrors.list_mirrors(get_hub(request), actor, source=source, **_paging(request))
    )
    return _listed([mirror_json(v) for v in views], total)


@router.get("/api/v1/mirror/tasks", openapi_extra=query(page=WHOLE, per=WHOLE, state=TEXT, mirror_id=WHOLE))
async def list_tasks(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    mirror_id = whole_number(request.query_params.get("mirror_id"), "mirror_id", maximum=MAX_ID)
    views, total = await run_in_threadpool(
        lambda: mirrors.list_tasks(get_hub(request), actor, mirror_id=mirror_id, **_paging(request))
    )
    return _listed([task_json(v) for v in views], total)


@router.post("/api/v1/mirror/tasks/{task_id}/cancel", responses=WRITE_ERRORS)
async def cancel_task(request: Request, task_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return ok(task_json(await run_in_threadpool(mirrors.cancel_task, get_hub(request), actor, task_id)))


@router.get("/api/v1/mirror/tasks/{task_id}/logs", responses=API_ERRORS)
async def task_logs(request: Request, task_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    text = await run_in_threadpool(mirrors.task_log, get_hub(request), actor, task_id)
    return ok({"id": task_id, "log": text})


@router.post("/api/v1/mirror/tasks/{task_id}/retry", responses=WRITE_ERRORS)
async def retry_task(request: Request, task_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return ok(task_json(await run_in_threadpool(mirrors.retry_task, get_hub(request), actor, task_id)))


@router.post("/api/v1/mirror/batch", responses=WRITE_ERRORS, openapi_extra=BATCH_BODY)
async def create_batch(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    spec = batch_spec(await read_json_object(request))
    views = await run_in_threadpool(mirrors.create_batch, get_hub(request), actor, spec)
    return ok([mirror_json(v) for v in views])
