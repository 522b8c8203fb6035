"""A user's SSH keys: /api/v1/user/ssh_keys (CSGHub envelope)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.serialize import iso
from csghub.http.bodies import read_json_object, text_field
from csghub.http.deps import get_actor, get_hub
from csghub.http.openapi import API_ERRORS, TEXT, WRITE_ERRORS, json_body
from csghub.http.params import RowId
from csghub.services.identity import ssh_keys
from csghub.services.permissions import Actor

router = APIRouter(responses=API_ERRORS)


def _json(key: ssh_keys.KeyView) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "fingerprint": key.fingerprint,
        "algorithm": key.algorithm,
        "created_at": iso(key.created_at),
    }


@router.get("/api/v1/user/ssh_keys")
async def list_keys(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    keys = await run_in_threadpool(ssh_keys.list_keys, get_hub(request), actor)
    return JSONResponse({"msg": "OK", "data": [_json(k) for k in keys]})


@router.post(
    "/api/v1/user/ssh_keys", responses=WRITE_ERRORS, openapi_extra=json_body("name", "content", name=TEXT, content=TEXT)
)
async def add_key(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    key = await run_in_threadpool(
        ssh_keys.add_key, get_hub(request), actor, text_field(body, "name"), text_field(body, "content")
    )
    return JSONResponse({"msg": "OK", "data": _json(key)})


@router.delete("/api/v1/user/ssh_keys/{key_id}", responses=WRITE_ERRORS)
async def delete_key(request: Request, key_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    await run_in_threadpool(ssh_keys.delete_key, get_hub(request), actor, key_id)
    return JSONResponse({"msg": "OK", "data": None})
