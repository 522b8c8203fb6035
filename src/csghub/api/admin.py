"""Site administration over the API: users (create, disable, admin, password reset), registration
invitations and the whole audit log. Every route is for site administrators only (authorize(SITE))."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.audit_json import audit_page
from csghub.api.serialize import ok
from csghub.api.users import user_json
from csghub.http.bodies import bool_field, read_json_object, text_field
from csghub.http.deps import get_actor, get_hub
from csghub.http.openapi import API_ERRORS, FLAG, TEXT, WHOLE, WRITE_ERRORS, json_body, query
from csghub.services.identity import accounts
from csghub.services.permissions import Actor

router = APIRouter(responses=API_ERRORS)


@router.get("/api/v1/admin/users", openapi_extra=query(search=TEXT))
async def list_users(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    search = request.query_params.get("search", "")
    users = await run_in_threadpool(lambda: accounts.list_users(get_hub(request), actor, search=search))
    return ok([user_json(u) for u in users])


@router.post(
    "/api/v1/admin/users",
    status_code=201,
    responses=WRITE_ERRORS,
    openapi_extra=json_body("username", "password", username=TEXT, email=TEXT, password=TEXT, is_admin=FLAG),
)
async def create_user(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    user = await run_in_threadpool(
        lambda: accounts.create_user(
            get_hub(request),
            text_field(body, "username", required=True),
            email=text_field(body, "email"),
            password=text_field(body, "password", required=True),
            is_admin=bool(bool_field(body, "is_admin")),
            actor=actor,
        )
    )
    return ok(user_json(user), status_code=201)


@router.patch(
    "/api/v1/admin/users/{name}", responses=WRITE_ERRORS, openapi_extra=json_body(disabled=FLAG, is_admin=FLAG)
)
async def update_user(request: Request, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    user = await run_in_threadpool(
        lambda: accounts.update_user(
            get_hub(request), actor, name, disabled=bool_field(body, "disabled"), is_admin=bool_field(body, "is_admin")
        )
    )
    return ok(user_json(user))


@router.put(
    "/api/v1/admin/users/{name}/password", responses=WRITE_ERRORS, openapi_extra=json_body("password", password=TEXT)
)
async def reset_password(request: Request, name: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    password = text_field(body, "password", required=True)
    await run_in_threadpool(accounts.reset_password, get_hub(request), actor, name, password)
    return ok(None)


@router.post(
    "/api/v1/admin/invites", status_code=201, responses=WRITE_ERRORS, openapi_extra=json_body(optional=True, email=TEXT)
)
async def create_invite(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request, optional=True)
    code = await run_in_threadpool(
        lambda: accounts.create_registration_invite(get_hub(request), actor, email=text_field(body, "email"))
    )
    return ok({"invite_code": code}, status_code=201)


@router.get("/api/v1/admin/audit", openapi_extra=query(action=TEXT, before=WHOLE, limit=WHOLE))
async def site_audit(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    return await audit_page(request, actor)
