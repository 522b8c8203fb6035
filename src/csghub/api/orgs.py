"""Organizations over the API: create, profile, members and roles, invitations, their audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.audit_json import audit_page
from csghub.api.serialize import iso, ok
from csghub.api.users import invitation_json
from csghub.http.bodies import optional_text_field, read_json_object, text_field
from csghub.http.deps import get_actor, get_hub
from csghub.http.openapi import API_ERRORS, TEXT, WHOLE, WRITE_ERRORS, json_body, query
from csghub.http.params import RowId
from csghub.services.identity import orgs
from csghub.services.permissions import Actor

router = APIRouter(responses=API_ERRORS)


def org_json(org: orgs.OrgView) -> dict[str, Any]:
    return {"name": org.name, "full_name": org.full_name, "created_at": iso(org.created_at), "members": org.members}


@router.post(
    "/api/v1/organizations",
    status_code=201,
    responses=WRITE_ERRORS,
    openapi_extra=json_body("name", name=TEXT, full_name=TEXT),
)
async def create_org(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    org = await run_in_threadpool(
        lambda: orgs.create_org(
            get_hub(request),
            text_field(body, "name", required=True),
            owner=actor.name,
            full_name=text_field(body, "full_name"),
            actor=actor,
        )
    )
    return ok(org_json(org), status_code=201)


@router.get("/api/v1/organizations/{name}")
async def get_org(request: Request, name: str) -> JSONResponse:
    org = await run_in_threadpool(orgs.get_org, get_hub(request), name)
    return ok(org_json(org))


@router.put("/api/v1/organizations/{name}", responses=WRITE_ERRORS, openapi_extra=json_body(full_name=TEXT))
async def update_org(request: Request, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    full_name = optional_text_field(body, "full_name")
    org = await run_in_threadpool(lambda: orgs.update_org(get_hub(request), actor, name, full_name=full_name))
    return ok(org_json(org))


@router.get("/api/v1/organizations/{name}/members")
async def list_members(request: Request, name: str) -> JSONResponse:
    members = await run_in_threadpool(orgs.list_members, get_hub(request), name)
    return ok([{"user": m.user, "full_name": m.full_name, "role": m.role} for m in members])


@router.put(
    "/api/v1/organizations/{name}/members/{user}", responses=WRITE_ERRORS, openapi_extra=json_body("role", role=TEXT)
)
async def set_member(request: Request, name: str, user: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    role = text_field(body, "role", required=True)
    await run_in_threadpool(orgs.set_member_role, get_hub(request), actor, name, user, role)
    return ok({"user": user, "role": role})


@router.delete("/api/v1/organizations/{name}/members/{user}", responses=WRITE_ERRORS)
async def remove_member(request: Request, name: str, user: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    await run_in_threadpool(orgs.remove_member, get_hub(request), actor, name, user)
    return ok(None)


@router.post(
    "/api/v1/organizations/{name}/invitations",
    status_code=201,
    responses=WRITE_ERRORS,
    openapi_extra=json_body("user", user=TEXT, role=TEXT),
)
async def invite(request: Request, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    invitation = await run_in_threadpool(
        orgs.invite,
        get_hub(request),
        actor,
        name,
        text_field(body, "user", required=True),
        text_field(body, "role", default="read"),
    )
    return ok(invitation_json(invitation), status_code=201)


@router.get("/api/v1/organizations/{name}/invitations")
async def list_invitations(request: Request, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    found = await run_in_threadpool(orgs.list_org_invitations, get_hub(request), actor, name)
    return ok([invitation_json(i) for i in found])


@router.delete("/api/v1/organizations/{name}/invitations/{invitation_id}", responses=WRITE_ERRORS)
async def cancel_invitation(
    request: Request, name: str, invitation_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    await run_in_threadpool(orgs.cancel_invitation, get_hub(request), actor, name, invitation_id)
    return ok(None)


@router.get("/api/v1/organizations/{name}/audit", openapi_extra=query(action=TEXT, before=WHOLE, limit=WHOLE))
async def org_audit(request: Request, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return await audit_page(request, actor, namespace=name)
