"""Who else may use a repository: collaborators (/api/v1) and gated access requests on Hugging Face's
paths, so huggingface_hub's list/accept/reject/grant access-request calls work unchanged."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.serialize import iso, ok
from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoId, RepoType
from csghub.http.bodies import read_json_object, text_field
from csghub.http.deps import get_actor, get_hub
from csghub.http.openapi import API_ERRORS, TEXT, WRITE_ERRORS, json_body
from csghub.services.permissions import Actor
from csghub.services.repositories import collaborators, gating

router = APIRouter(responses=API_ERRORS)


@router.get("/api/v1/{type_plural:repo_type}/{namespace}/{name}/collaborators")
async def list_collaborators(
    request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    found = await run_in_threadpool(
        collaborators.list_collaborators,
        get_hub(request),
        actor,
        RepoType.parse(type_plural),
        RepoId.of(namespace, name),
    )
    return ok([{"user": c.user, "role": c.role} for c in found])


@router.put(
    "/api/v1/{type_plural:repo_type}/{namespace}/{name}/collaborators/{user}",
    responses=WRITE_ERRORS,
    openapi_extra=json_body("role", role=TEXT),
)
async def set_collaborator(
    request: Request, type_plural: str, namespace: str, name: str, user: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    body = await read_json_object(request)
    role = text_field(body, "role", required=True)
    await run_in_threadpool(
        collaborators.set_collaborator,
        get_hub(request),
        actor,
        RepoType.parse(type_plural),
        RepoId.of(namespace, name),
        user,
        role,
    )
    return ok({"user": user, "role": role})


@router.delete("/api/v1/{type_plural:repo_type}/{namespace}/{name}/collaborators/{user}", responses=WRITE_ERRORS)
async def remove_collaborator(
    request: Request, type_plural: str, namespace: str, name: str, user: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    await run_in_threadpool(
        collaborators.remove_collaborator,
        get_hub(request),
        actor,
        RepoType.parse(type_plural),
        RepoId.of(namespace, name),
        user,
    )
    return ok(None)


@router.post(
    "/api/{type_plural:repo_type}/{namespace}/{name}/ask-access",
    responses=WRITE_ERRORS,
    openapi_extra=json_body(optional=True),
)
async def ask_access(
    request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    body = await read_json_object(request, optional=True)
    status = await run_in_threadpool(
        gating.request_access, get_hub(request), actor, RepoType.parse(type_plural), RepoId.of(namespace, name), body
    )
    return JSONResponse({"status": status})


@router.get("/api/{type_plural:repo_type}/{namespace}/{name}/user-access-request/{status}")
async def list_access_requests(
    request: Request, type_plural: str, namespace: str, name: str, status: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    found = await run_in_threadpool(
        gating.list_requests,
        get_hub(request),
        actor,
        RepoType.parse(type_plural),
        RepoId.of(namespace, name),
        status,
    )
    return JSONResponse(
        [
            {
                "user": {"user": r.user, "fullname": r.full_name, "email": r.email or None},
                "requestId": r.user,
                "status": r.status,
                "timestamp": iso(r.created_at),
                "fields": r.fields or None,
            }
            for r in found
        ]
    )


async def _decide(request: Request, type_plural: str, namespace: str, name: str, actor: Actor, grant: bool) -> None:
    body = await read_json_object(request)
    # Requests are identified by their user; huggingface_hub may send either.
    user = text_field(body, "user") or text_field(body, "requestId")
    if not user:
        raise InvalidArgument("Name the user whose request to handle: {'user': name}")
    status = "accepted" if grant else text_field(body, "status", required=True)
    await run_in_threadpool(
        lambda: gating.decide(
            get_hub(request),
            actor,
            RepoType.parse(type_plural),
            RepoId.of(namespace, name),
            user,
            status,
            grant=grant,
        )
    )


@router.post(
    "/api/{type_plural:repo_type}/{namespace}/{name}/user-access-request/handle",
    responses=WRITE_ERRORS,
    openapi_extra=json_body("status", user=TEXT, requestId=TEXT, status=TEXT),
)
async def handle_access_request(
    request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    await _decide(request, type_plural, namespace, name, actor, grant=False)
    return JSONResponse({"status": "ok"})


@router.post(
    "/api/{type_plural:repo_type}/{namespace}/{name}/user-access-request/grant",
    responses=WRITE_ERRORS,
    openapi_extra=json_body(user=TEXT, requestId=TEXT),
)
async def grant_access(
    request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    await _decide(request, type_plural, namespace, name, actor, grant=True)
    return JSONResponse({"status": "ok"})
