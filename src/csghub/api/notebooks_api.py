"""CSGHub-style API for notebooks (a JupyterLab with a model and a dataset checked out), in CSGHub's
envelope (`{"msg": "OK", "data": ...}`):

    POST   /api/v1/notebooks                  start one: model, dataset, name, cluster_id, resource_id
    GET    /api/v1/notebooks                  the notebooks the caller may use
    GET    /api/v1/notebooks/{id}             one, with its URL on the hub
    DELETE /api/v1/notebooks/{id}             stop it and remove it with its files
    PUT    /api/v1/notebooks/{id}/start|stop  run it again (its files kept) or stop it

The notebook itself is at `url`: /notebooks/{owner}/{name}/ on the hub (transport/notebook_proxy.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.compute_json import STATUS, cluster_json, tier_json
from csghub.api.serialize import iso, ok
from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoId
from csghub.http.bodies import int_field, optional_text_field, read_json_object, text_field
from csghub.http.deps import base_url, get_actor, get_hub
from csghub.http.openapi import API_ERRORS, TEXT, WRITE_ERRORS, json_body, query
from csghub.http.params import RowId
from csghub.services.compute import notebooks
from csghub.services.compute.notebooks import NotebookSpec, NotebookView
from csghub.services.permissions import Actor

router = APIRouter(responses=API_ERRORS)
BASE = "/api/v1/notebooks"
_ID: dict[str, Any] = {"type": "integer", "minimum": 0}
CREATE_BODY = json_body(
    name=TEXT,
    model=TEXT,
    revision=TEXT,
    dataset=TEXT,
    dataset_revision=TEXT,
    cluster_id=_ID,
    resource_id=_ID,
    owner_namespace=TEXT,
)


def _repo(body: dict[str, Any], key: str, *, required: bool) -> RepoId | None:
    value = text_field(body, key, required=required)
    if not value:
        return None
    if value.count("/") != 1:
        raise InvalidArgument(f"Invalid {key} '{value}': give the repository as namespace/name")
    return RepoId.parse(value)


def _id(body: dict[str, Any], key: str) -> int | None:
    return int_field(body, key, minimum=1, maximum=2**31 - 1) if body.get(key) not in (None, "", 0) else None


def notebook_json(view: NotebookView, base: str) -> dict[str, Any]:
    return {
        "id": view.id,
        "name": view.name,
        "namespace": view.owner,
        "model": view.model,
        "revision": view.revision,
        "commit": view.commit,
        "dataset": view.dataset,
        "dataset_commit": view.dataset_commit,
        "state": view.state,
        "status": STATUS.get(view.state, view.state),
        "reason": view.reason,
        "desired": view.desired,
        "url": f"{base}{view.path}",
        "cluster": cluster_json(view.cluster),
        "resource": tier_json(view.tier),
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
    }


@router.post(BASE, responses=WRITE_ERRORS, openapi_extra=CREATE_BODY)
async def create(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    model = _repo(body, "model", required=True)
    assert model is not None
    spec = NotebookSpec(
        name=text_field(body, "name", required=True),
        revision=optional_text_field(body, "revision"),
        dataset=_repo(body, "dataset", required=False),
        dataset_revision=optional_text_field(body, "dataset_revision"),
        cluster_id=_id(body, "cluster_id"),
        tier_id=_id(body, "resource_id"),
        owner=optional_text_field(body, "owner_namespace"),
    )
    view = await run_in_threadpool(notebooks.create_notebook, get_hub(request), actor, model, spec)
    return ok(notebook_json(view, base_url(request)))


@router.get(BASE, openapi_extra=query(owner=TEXT))
async def list_all(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    owner = request.query_params.get("owner") or None
    views = await run_in_threadpool(lambda: notebooks.list_notebooks(get_hub(request), actor, owner=owner))
    return ok([notebook_json(v, base_url(request)) for v in views])


@router.get(BASE + "/{notebook_id}")
async def detail(request: Request, notebook_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    view = await run_in_threadpool(notebooks.get_notebook, get_hub(request), actor, notebook_id)
    return ok(notebook_json(view, base_url(request)))


@router.delete(BASE + "/{notebook_id}", responses=WRITE_ERRORS)
async def delete(request: Request, notebook_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    await run_in_threadpool(notebooks.delete_notebook, get_hub(request), actor, notebook_id)
    return ok(None)


@router.put(BASE + "/{notebook_id}/start", responses=WRITE_ERRORS)
async def start(request: Request, notebook_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    view = await run_in_threadpool(notebooks.start_notebook, get_hub(request), actor, notebook_id)
    return ok(notebook_json(view, base_url(request)))


@router.put(BASE + "/{notebook_id}/stop", responses=WRITE_ERRORS)
async def stop(request: Request, notebook_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    view = await run_in_threadpool(notebooks.stop_notebook, get_hub(request), actor, notebook_id)
    return ok(notebook_json(view, base_url(request)))
