"""Xet token routes of the Hugging Face API: what hf_xet and huggingface_hub ask before talking to the CAS."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.paths import repo_from_url
from csghub.http.deps import base_url, get_actor, get_hub
from csghub.http.openapi import API_ERRORS
from csghub.services import xet_cas
from csghub.services.permissions import Actor

router = APIRouter(responses=API_ERRORS)


async def _token(
    request: Request, actor: Actor, type_plural: str, namespace: str, name: str, scope: str
) -> JSONResponse:
    hub = get_hub(request)

    def work() -> tuple[str, int]:
        repo = repo_from_url(hub, actor, type_plural, namespace, name)
        return xet_cas.issue_token(hub, actor, repo, scope)

    token, expires_at = await run_in_threadpool(work)
    cas_url = f"{base_url(request)}/xet"
    # hf_xet reads the JSON body, huggingface_hub the headers: send both.
    return JSONResponse(
        {"accessToken": token, "exp": expires_at, "casUrl": cas_url},
        headers={"X-Xet-Access-Token": token, "X-Xet-Token-Expiration": str(expires_at), "X-Xet-Cas-Url": cas_url},
    )


@router.get("/api/{type_plural:repo_type}/{namespace}/{name}/xet-read-token/{revision}")
async def xet_read_token(
    request: Request, type_plural: str, namespace: str, name: str, revision: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    return await _token(request, actor, type_plural, namespace, name, "read")


@router.get("/api/{type_plural:repo_type}/{namespace}/{name}/xet-write-token/{revision}")
async def xet_write_token(
    request: Request, type_plural: str, namespace: str, name: str, revision: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    return await _token(request, actor, type_plural, namespace, name, "write")
