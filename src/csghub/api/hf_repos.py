"""Hugging Face-compatible repository routes: create, delete, move, settings, info, list."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.api.pagination import next_link, parse_cursor
from csghub.api.paths import unmask
from csghub.api.serialize import gated_of, json_bytes, repo_json, visibility_of
from csghub.api.spaces_json import new_space, runtime_json
from csghub.core.errors import Conflict, InvalidArgument, Unauthenticated
from csghub.core.names import RepoId, RepoType
from csghub.http.bodies import optional_text_field, read_json_object, text_field
from csghub.http.deps import base_url, get_actor, get_hub
from csghub.http.errors import error_response
from csghub.http.openapi import API_ERRORS, FLAG, REPO_TYPE, TEXT, VISIBILITY, WRITE_ERRORS, json_body, query
from csghub.services.context import Hub
from csghub.services.permissions import Actor
from csghub.services.repositories import facets, files, repos
from csghub.services.spaces import creation
from csghub.services.spaces import records as space_records

router = APIRouter(responses=API_ERRORS)
GATED = {"anyOf": [{"type": "string", "enum": ["auto", "manual"]}, {"type": "boolean", "enum": [False]}]}


def _repo_type(body: dict[str, Any]) -> RepoType:
    return RepoType.parse(text_field(body, "type") or None)


def _target(body: dict[str, Any], actor: Actor) -> RepoId:
    name = text_field(body, "name")
    org = text_field(body, "organization")
    if "/" in name:
        return RepoId.parse(name)
    if not org and actor.is_anonymous:
        raise Unauthenticated("Authentication required to create repositories")
    return RepoId.of(org or actor.name, name)


@router.post(
    "/api/repos/create",
    responses=WRITE_ERRORS,
    openapi_extra=json_body(
        "name",
        name=TEXT,
        organization=TEXT,
        type=REPO_TYPE,
        private=FLAG,
        visibility=VISIBILITY,
        description=TEXT,
        license=TEXT,
    ),
)
async def create_repo(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    repo_type = _repo_type(body)
    repo_id = _target(body, actor)
    prefix = "" if repo_type is RepoType.MODEL else f"{repo_type.plural}/"
    try:
        if repo_type is RepoType.SPACE and optional_text_field(body, "sdk"):
            new = new_space(body, visibility_of(body) or "public")
            view = await run_in_threadpool(creation.create_space, get_hub(request), actor, repo_id, new)
        else:
            view = await run_in_threadpool(
                lambda: repos.create_repo(
                    get_hub(request),
                    actor,
                    repo_type,
                    repo_id,
                    visibility=visibility_of(body) or "public",
                    description=text_field(body, "description"),
                    license=text_field(body, "license"),
                )
            )
    except Conflict as exc:
        # huggingface_hub's exist_ok path reads the existing repo's url from the 409 body.
        return error_response(
            exc.status, exc.code, exc.message, extra={"url": f"{base_url(request)}/{prefix}{repo_id}"}
        )
    url = f"{base_url(request)}/{prefix}{view.full_name}"
    return JSONResponse({"url": url, "name": view.full_name, "id": view.full_name}, status_code=200)


@router.delete(
    "/api/repos/delete",
    responses=WRITE_ERRORS,
    openapi_extra=json_body("name", name=TEXT, organization=TEXT, type=REPO_TYPE),
)
async def delete_repo(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    repo_type = _repo_type(body)
    repo_id = _target(body, actor)
    await run_in_threadpool(repos.delete_repo, get_hub(request), actor, repo_type, repo_id)
    return JSONResponse({"deleted": str(repo_id)})


@router.post(
    "/api/repos/move",
    responses=WRITE_ERRORS,
    openapi_extra=json_body("fromRepo", "toRepo", fromRepo=TEXT, toRepo=TEXT, type=REPO_TYPE),
)
async def move_repo(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    repo_type = _repo_type(body)
    source = RepoId.parse(text_field(body, "fromRepo", required=True))
    target = RepoId.parse(text_field(body, "toRepo", required=True))
    view = await run_in_threadpool(repos.move_repo, get_hub(request), actor, repo_type, source, target)
    return JSONResponse({"name": view.full_name})


@router.put(
    "/api/{type_plural:repo_type}/{namespace}/{name}/settings",
    responses=WRITE_ERRORS,
    openapi_extra=json_body(private=FLAG, visibility=VISIBILITY, gated=GATED, description=TEXT, defaultBranch=TEXT),
)
async def update_settings(
    request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    body = await read_json_object(request)
    visibility, gated = visibility_of(body), gated_of(body)
    view = await run_in_threadpool(
        lambda: repos.update_settings(
            get_hub(request),
            actor,
            RepoType.parse(type_plural),
            RepoId.of(namespace, name),
            visibility=visibility,
            gated=gated,
            description=optional_text_field(body, "description"),
            default_branch=optional_text_field(body, "defaultBranch") or optional_text_field(body, "default_branch"),
        )
    )
    return JSONResponse(repo_json(view))


async def _info(
    hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, revision: str | None, blobs: bool
) -> Response:
    """Model info, encoded once per repository read and commit: a repeat costs a ref lookup and no
    database round trip or thread hop (services/read_cache.py drops both on any write)."""
    view = repos.cached_repo(hub, actor, repo_type, repo_id)
    if view is None:
        view = await run_in_threadpool(repos.shared_repo, hub, actor, repo_type, repo_id)
    snapshot = files.at_revision(hub, actor, view, revision)  # pygit2 reads a ref: microseconds
    key = ("repo-info", view.id, snapshot.sha, blobs)
    body, generation = repos.cached_answer(hub, view, key)
    if body is None:
        body = await run_in_threadpool(_info_body, snapshot, blobs)
        repos.keep_answer(hub, view, key, body, generation)
    if repo_type is RepoType.SPACE:  # its runtime changes without a commit: never part of what is kept
        space = await run_in_threadpool(space_records.get_space, hub, actor, repo_id.namespace, repo_id.name)
        body = json_bytes({**json.loads(body), "runtime": runtime_json(space)})
    return Response(body, media_type="application/json")


def _info_body(snapshot: files.Snapshot, blobs: bool) -> bytes:
    data = repo_json(snapshot.repo, siblings=list(files.all_files(snapshot)), sha=snapshot.sha, blobs=blobs)
    return json_bytes(data)


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes")


@router.get("/api/{type_plural:repo_type}/{namespace}/{name}", openapi_extra=query(blobs=FLAG))
async def repo_info(
    request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> Response:
    blobs = _flag(request.query_params.get("blobs"))
    return await _info(get_hub(request), actor, RepoType.parse(type_plural), RepoId.of(namespace, name), None, blobs)


@router.get("/api/{type_plural:repo_type}/{namespace}/{name}/revision/{revision:path}", openapi_extra=query(blobs=FLAG))
async def repo_info_at(
    request: Request,
    type_plural: str,
    namespace: str,
    name: str,
    revision: str,
    actor: Actor = Depends(get_actor),
) -> Response:
    blobs = _flag(request.query_params.get("blobs"))
    repo_id = RepoId.of(namespace, name)
    return await _info(get_hub(request), actor, RepoType.parse(type_plural), repo_id, unmask(revision), blobs)


# Query parameters that filter a listing, as huggingface_hub's list_models/list_datasets may send them,
# and the listing filter each one is.
_FILTER_PARAMS = {
    "library": "library",
    "language": "language",
    "pipeline_tag": "task",
    "license": "license",
    "task_categories": "task",
    "task_ids": "subtask",
    "size_categories": "size",
}


def _list_params(request: Request, repo_type: RepoType) -> repos.RepoQuery:
    params = request.query_params
    try:
        limit = int(params.get("limit") or 1000)
    except ValueError:
        raise InvalidArgument("'limit' must be an integer") from None
    tags = tuple(params.getlist("filter")) + tuple(params.getlist("tags"))
    for key, facet in _FILTER_PARAMS.items():
        tags += tuple(facets.facet_tag(repo_type, facet, value) for value in params.getlist(key) if value)
    direction = params.get("direction")
    return repos.RepoQuery(
        repo_type=repo_type,
        search=params.get("search") or "",
        author=params.get("author") or "",
        tags=tags,
        sort=params.get("sort") or "lastModified",
        descending=direction != "1",
        limit=max(1, min(limit, 1000)),
        offset=parse_cursor(params.get("cursor")),
    )


def _list(request: Request, actor: Actor, repo_type: RepoType) -> tuple[list[dict[str, Any]], dict[str, str]]:
    hub = get_hub(request)
    query = _list_params(request, repo_type)
    found = repos.list_repos(hub, actor, query)
    full = _flag(request.query_params.get("full"))
    out = []
    for view in found:
        siblings = None
        if full:
            snapshot = files.at_revision(hub, actor, view, None)
            siblings = list(files.all_files(snapshot))
        out.append(repo_json(view, siblings=siblings))
    headers = next_link(request, query.offset + len(found)) if len(found) == query.limit else {}
    return out, headers


@router.get(
    "/api/{type_plural:repo_type}",
    openapi_extra=query(
        search=TEXT,
        author=TEXT,
        filter=TEXT,
        tags=TEXT,
        library=TEXT,
        language=TEXT,
        pipeline_tag=TEXT,
        license=TEXT,
        task_categories=TEXT,
        task_ids=TEXT,
        size_categories=TEXT,
        sort=TEXT,
        direction=TEXT,
        limit={"type": "integer"},
        full=FLAG,
        cursor=TEXT,
    ),
)
async def list_repos(request: Request, type_plural: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    repo_type = RepoType.parse(type_plural)
    data, headers = await run_in_threadpool(_list, request, actor, repo_type)
    return JSONResponse(data, headers=headers)
