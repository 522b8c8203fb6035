"""Mirror sources, as CSGHub's admin API names them (site administrators only), in CSGHub's envelope:

    GET  /api/v1/mirror/sources              every source
    POST /api/v1/mirror/sources              add one: {source_name (or name), base_url, token?, ...}
    GET|PUT|DELETE /api/v1/mirror/sources/{id}   one source, by id or name; PUT changes the fields sent

A source's token is write-only: answers say `has_token`, never the token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.serialize import iso, ok
from csghub.core.errors import InvalidArgument
from csghub.http.bodies import bool_field, int_field, optional_text_field, read_json_object
from csghub.http.deps import get_actor, get_hub
from csghub.http.openapi import API_ERRORS, FLAG, TEXT, WHOLE, WRITE_ERRORS, json_body
from csghub.services.mirrors import sources
from csghub.services.mirrors.sources import SourceSpec, SourceView
from csghub.services.permissions import Actor

router = APIRouter(responses=API_ERRORS)
SOURCES = "/api/v1/mirror/sources"
_RULES: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
_UPDATE_BODY = json_body(
    source_name=TEXT,
    name=TEXT,
    base_url=TEXT,
    info_api_url=TEXT,
    token=TEXT,
    use_git=FLAG,
    max_concurrency=WHOLE,
    bandwidth_bytes_per_s=WHOLE,
    upstream_proxy=FLAG,
    proxy_rules=_RULES,
    cache_max_bytes=WHOLE,
    object_max_bytes=WHOLE,
)
_CREATE_BODY = _UPDATE_BODY  # name and base_url are required, in either spelling: checked by the route
_INTS = ("max_concurrency", "bandwidth_bytes_per_s", "cache_max_bytes", "object_max_bytes")


def source_json(view: SourceView) -> dict[str, Any]:
    return {
        "id": view.id,
        "source_name": view.name,
        "base_url": view.base_url,
        "info_api_url": view.base_url,  # CSGHub's name for it
        "has_token": view.has_token,
        "use_git": view.use_git,
        "max_concurrency": view.max_concurrency,
        "bandwidth_bytes_per_s": view.bandwidth_bytes_per_s,
        "upstream_proxy": view.upstream_proxy,
        "proxy_rules": list(view.proxy_rules),
        "cache_max_bytes": view.cache_max_bytes,
        "object_max_bytes": view.object_max_bytes,
        "mirrors": view.mirrors,
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
    }


def source_changes(body: dict[str, Any]) -> dict[str, Any]:
    """The fields a body sets, typed; names as SourceSpec's (`source_name` -> name)."""
    changes: dict[str, Any] = {}
    # CSGHub's names first (source_name, info_api_url), then ours (name, base_url): the later one wins.
    for key, spec_key in (
        ("source_name", "name"),
        ("name", "name"),
        ("info_api_url", "base_url"),
        ("base_url", "base_url"),
    ):
        value = optional_text_field(body, key)
        if value is not None:
            changes[spec_key] = value
    if "token" in body:
        changes["token"] = optional_text_field(body, "token")
    for key in ("use_git", "upstream_proxy"):
        if (flag := bool_field(body, key)) is not None:
            changes[key] = flag
    for key in _INTS:
        if (number := int_field(body, key, minimum=0)) is not None:
            changes[key] = number
    if body.get("proxy_rules") is not None:
        rules = body["proxy_rules"]
        if not isinstance(rules, list):
            raise InvalidArgument("Field 'proxy_rules' must be a list of {pattern, action} objects")
        changes["proxy_rules"] = tuple(rules)
    return changes


@router.get(SOURCES)
async def list_sources(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    views = await run_in_threadpool(sources.list_sources, get_hub(request), actor)
    return ok([source_json(v) for v in views])


@router.post(SOURCES, responses=WRITE_ERRORS, openapi_extra=_CREATE_BODY)
async def create_source(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    changes = source_changes(await read_json_object(request))
    if "name" not in changes or "base_url" not in changes:
        raise InvalidArgument("Fields 'source_name' (or 'name') and 'base_url' are required")
    view = await run_in_threadpool(sources.create_source, get_hub(request), actor, SourceSpec(**changes))
    return ok(source_json(view))


@router.get(SOURCES + "/{source}")
async def get_source(request: Request, source: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    view = await run_in_threadpool(sources.get_source, get_hub(request), actor, source)
    return ok(source_json(view))


@router.put(SOURCES + "/{source}", responses=WRITE_ERRORS, openapi_extra=_UPDATE_BODY)
async def update_source(request: Request, source: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    changes = source_changes(await read_json_object(request))
    view = await run_in_threadpool(sources.update_source, get_hub(request), actor, source, changes)
    return ok(source_json(view))


@router.delete(SOURCES + "/{source}", responses=WRITE_ERRORS)
async def delete_source(request: Request, source: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    await run_in_threadpool(sources.delete_source, get_hub(request), actor, source)
    return ok(None)
