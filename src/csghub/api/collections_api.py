"""Collections on Hugging Face's API paths, so huggingface_hub's list/get/create/update/delete collection
and add/update/delete collection item calls work. A slug is `{namespace}/{slug}`; an item's object id
is its repository's id."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.serialize import iso
from csghub.core.errors import Conflict, InvalidArgument
from csghub.core.names import RepoId, RepoType
from csghub.http.bodies import bool_field, int_field, optional_text_field, read_json_object, text_field
from csghub.http.deps import get_actor, get_hub
from csghub.http.errors import error_response
from csghub.http.openapi import API_ERRORS, FLAG, TEXT, WHOLE, WRITE_ERRORS, json_body, query
from csghub.http.params import MAX_ID, whole_number
from csghub.services.community import collections
from csghub.services.permissions import Actor

router = APIRouter(responses=API_ERRORS)
COLLECTION_ITEM = {
    "type": "object",
    "properties": {"id": TEXT, "type": {"type": "string", "enum": ["model", "dataset", "space"]}},
    "required": ["id", "type"],
}
BASE = "/api/collections/{namespace}/{slug}"
_ITEM_TYPES = {"model": RepoType.MODEL, "dataset": RepoType.DATASET, "space": RepoType.SPACE}


def collection_json(view: collections.CollectionView, *, max_items: int | None = None) -> dict[str, Any]:
    items = view.items[:max_items] if max_items is not None else view.items
    return {
        "slug": f"{view.namespace}/{view.slug}",
        "title": view.title,
        "description": view.description or None,
        "owner": {"name": view.namespace, "type": "user"},
        "items": [
            {
                "_id": str(item.repo.id),
                "id": item.repo.full_name,
                "type": item.repo.type.value,
                "position": index,
                "note": {"text": item.note} if item.note else None,
            }
            for index, item in enumerate(items)
        ],
        "lastUpdated": iso(view.updated_at),
        "position": 0,
        "private": view.visibility == "private",
        "theme": "indigo",
        "upvotes": 0,
    }


@router.get("/api/collections", openapi_extra=query("owner", owner=TEXT, limit=WHOLE))
async def list_collections(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    owners = request.query_params.getlist("owner")
    if not owners:
        raise InvalidArgument("List collections by owner: ?owner=<user or organization>")
    limit = whole_number(request.query_params.get("limit"), "limit") or 100

    def work() -> list[dict[str, Any]]:
        hub = get_hub(request)
        found = [c for owner in owners for c in collections.list_collections(hub, actor, owner)]
        full = [collections.get_collection(hub, actor, c.namespace, c.slug) for c in found[:limit]]
        # The client numbers a listing's collections itself ("position"), so the field stays out here.
        return [{k: v for k, v in collection_json(c, max_items=4).items() if k != "position"} for c in full]

    return JSONResponse(await run_in_threadpool(work))


@router.post(
    "/api/collections",
    responses=WRITE_ERRORS,
    openapi_extra=json_body("title", title=TEXT, namespace=TEXT, description=TEXT, private=FLAG),
)
async def create_collection(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    namespace = text_field(body, "namespace") or actor.name
    title = text_field(body, "title", required=True)
    visibility = "private" if bool_field(body, "private") else "public"
    hub = get_hub(request)
    try:
        view = await run_in_threadpool(
            lambda: collections.create_collection(
                hub, actor, namespace, title, description=text_field(body, "description"), visibility=visibility
            )
        )
    except Conflict as exc:
        # huggingface_hub's exists_ok reads the existing collection's slug from the 409 body.
        slug = f"{namespace}/{collections.slugify(title)}"
        return error_response(exc.status, exc.code, exc.message, extra={"slug": slug})
    return JSONResponse(collection_json(view))


@router.get(BASE)
async def get_collection(
    request: Request, namespace: str, slug: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    view = await run_in_threadpool(collections.get_collection, get_hub(request), actor, namespace, slug)
    return JSONResponse(collection_json(view))


@router.patch(BASE, responses=WRITE_ERRORS, openapi_extra=json_body(title=TEXT, description=TEXT, private=FLAG))
async def update_collection(
    request: Request, namespace: str, slug: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    body = await read_json_object(request)
    private = bool_field(body, "private")
    hub = get_hub(request)

    def work() -> collections.CollectionView:
        collections.update_collection(
            hub,
            actor,
            namespace,
            slug,
            title=text_field(body, "title") or None,
            description=optional_text_field(body, "description"),
            visibility=None if private is None else ("private" if private else "public"),
        )
        return collections.get_collection(hub, actor, namespace, slug)

    return JSONResponse({"data": collection_json(await run_in_threadpool(work))})


@router.delete(BASE, responses=WRITE_ERRORS)
async def delete_collection(
    request: Request, namespace: str, slug: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    await run_in_threadpool(collections.delete_collection, get_hub(request), actor, namespace, slug)
    return JSONResponse({"deleted": f"{namespace}/{slug}"})


@router.post(BASE + "/items", responses=WRITE_ERRORS, openapi_extra=json_body("item", item=COLLECTION_ITEM, note=TEXT))
async def add_item(request: Request, namespace: str, slug: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    item = body.get("item")
    if not isinstance(item, dict) or not isinstance(item.get("type"), str) or item["type"] not in _ITEM_TYPES:
        raise InvalidArgument("Collections here hold models, datasets and spaces: {'item': {'id', 'type'}}")
    repo_type = _ITEM_TYPES[item["type"]]
    repo_id = RepoId.parse(text_field(item, "id", required=True).removeprefix(f"{repo_type.plural}/"))
    hub = get_hub(request)

    def work() -> collections.CollectionView:
        note = text_field(body, "note")
        collections.add_item(hub, actor, namespace, slug, repo_type, repo_id, note=note)
        return collections.get_collection(hub, actor, namespace, slug)

    return JSONResponse(collection_json(await run_in_threadpool(work)))


def _item_id(item_object_id: str) -> int:
    return whole_number(item_object_id, "item_object_id", maximum=MAX_ID) or 0


@router.patch(
    BASE + "/items/{item_object_id}", responses=WRITE_ERRORS, openapi_extra=json_body(note=TEXT, position=WHOLE)
)
async def update_item(
    request: Request, namespace: str, slug: str, item_object_id: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    body = await read_json_object(request)
    position = int_field(body, "position", maximum=MAX_ID)
    note = optional_text_field(body, "note")
    await run_in_threadpool(
        lambda: collections.update_item(
            get_hub(request), actor, namespace, slug, _item_id(item_object_id), note=note, position=position
        )
    )
    return JSONResponse({"updated": item_object_id})


@router.delete(BASE + "/items/{item_object_id}", responses=WRITE_ERRORS)
async def delete_item(
    request: Request, namespace: str, slug: str, item_object_id: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    await run_in_threadpool(
        collections.remove_item_by_id, get_hub(request), actor, namespace, slug, _item_id(item_object_id)
    )
    return JSONResponse({"deleted": item_object_id})
