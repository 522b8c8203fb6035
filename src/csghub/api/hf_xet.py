"""Xet token routes of the Hugging Face API: what hf_xet and huggingface_hub ask before talking to the CAS."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.http.deps import base_url
from csghub.http.openapi import API_ERRORS
from csghub.http.repos import RepoContext, repo_route
from csghub.services.permissions import Action
from csghub.services.xet import cas as xet_cas

router = APIRouter(responses=API_ERRORS)


async def _token(request: Request, at: RepoContext, scope: str) -> JSONResponse:
    token, expires_at = await run_in_threadpool(xet_cas.issue_token, at.hub, at.actor, at.repo, scope)
    cas_url = f"{base_url(request)}/xet/{xet_cas.store_tag(at.hub)}"
    # hf_xet reads the JSON body, huggingface_hub the headers: send both.
    return JSONResponse(
        {"accessToken": token, "exp": expires_at, "casUrl": cas_url},
        headers={"X-Xet-Access-Token": token, "X-Xet-Token-Expiration": str(expires_at), "X-Xet-Cas-Url": cas_url},
    )


# The revision is part of Hugging Face's path; a token covers the whole repository.
@router.get("/api/{type_plural:repo_type}/{namespace}/{name}/xet-read-token/{revision}")
async def xet_read_token(
    request: Request, revision: str, at: RepoContext = Depends(repo_route(Action.DOWNLOAD))
) -> JSONResponse:
    return await _token(request, at, "read")


@router.get("/api/{type_plural:repo_type}/{namespace}/{name}/xet-write-token/{revision}")
async def xet_write_token(
    request: Request, revision: str, at: RepoContext = Depends(repo_route(Action.WRITE))
) -> JSONResponse:
    return await _token(request, at, "write")
