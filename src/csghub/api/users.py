"""Accounts over the API: register, first-admin setup, sign in and out (session cookie), the signed-in
user, password change, access tokens and organization invitations (CSGHub envelope)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.serialize import iso, ok
from csghub.core.errors import InvalidArgument, Unauthenticated
from csghub.http.bodies import int_field, read_json_object, text_field, text_list_field
from csghub.http.deps import SESSION_COOKIE, client_address, get_actor, get_hub, set_session_cookie
from csghub.http.openapi import API_ERRORS, TEXT, TEXTS, WHOLE, WRITE_ERRORS, json_body
from csghub.http.params import RowId
from csghub.services.identity import accounts, orgs, sessions, tokens
from csghub.services.permissions import Actor

router = APIRouter(responses=API_ERRORS)
_GRANT = {"type": "object", "properties": {"target": TEXT, "actions": TEXTS}, "required": ["target", "actions"]}
GRANTS = {"type": "array", "items": _GRANT}


def user_json(user: accounts.UserView) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.name,
        "name": user.name,
        "full_name": user.full_name,
        "email": user.email,
        "is_admin": user.is_admin,
        "disabled": user.disabled,
        "auth_source": user.auth_source,
        "created_at": iso(user.created_at) if user.created_at else None,
    }


def token_json(token: tokens.TokenView) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "scope": token.scope,
        "grants": [{"target": g["name"], "actions": g["actions"]} for g in token.grants],
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at) if token.last_used_at else None,
        "expires_at": iso(token.expires_at) if token.expires_at else None,
        "revoked_at": iso(token.revoked_at) if token.revoked_at else None,
        "active": token.active,
    }


def _signed_in(actor: Actor) -> int:
    if actor.user_id is None:
        raise Unauthenticated("Sign in first")
    return actor.user_id


@router.post(
    "/api/v1/auth/register",
    status_code=201,
    responses=WRITE_ERRORS,
    openapi_extra=json_body(
        "username", "email", "password", username=TEXT, email=TEXT, password=TEXT, invite_code=TEXT
    ),
)
async def register(request: Request) -> JSONResponse:
    body = await read_json_object(request)
    user = await run_in_threadpool(
        lambda: accounts.register(
            get_hub(request),
            text_field(body, "username", required=True),
            email=text_field(body, "email", required=True),
            password=text_field(body, "password", required=True),
            invite_code=text_field(body, "invite_code"),
            address=client_address(request),
        )
    )
    return ok(user_json(user), status_code=201)


@router.post(
    "/api/v1/auth/setup",
    status_code=201,
    responses=WRITE_ERRORS,
    openapi_extra=json_body("token", "username", "password", token=TEXT, username=TEXT, password=TEXT, email=TEXT),
)
async def setup(request: Request) -> JSONResponse:
    body = await read_json_object(request)
    user = await run_in_threadpool(
        lambda: accounts.setup_first_admin(
            get_hub(request),
            text_field(body, "token", required=True),
            text_field(body, "username", required=True),
            password=text_field(body, "password", required=True),
            email=text_field(body, "email"),
            address=client_address(request),
        )
    )
    return ok(user_json(user), status_code=201)


def _session_response(request: Request, signed: sessions.SignedIn) -> JSONResponse:
    response = ok({"user": user_json(signed.user), "csrf_token": signed.csrf_token})
    set_session_cookie(request, response, signed)
    return response


@router.post(
    "/api/v1/auth/login",
    responses=WRITE_ERRORS,
    openapi_extra=json_body("username", "password", username=TEXT, password=TEXT),
)
async def login(request: Request) -> JSONResponse:
    body = await read_json_object(request)
    signed = await run_in_threadpool(
        lambda: sessions.login(
            get_hub(request),
            text_field(body, "username", required=True),
            text_field(body, "password", required=True),
            address=client_address(request),
        )
    )
    return _session_response(request, signed)


@router.post("/api/v1/auth/logout", responses=WRITE_ERRORS)
async def logout(request: Request) -> JSONResponse:
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if session_id:
        await run_in_threadpool(sessions.logout, get_hub(request), session_id)
    response = ok(None)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/v1/user")
async def me(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    user = await run_in_threadpool(accounts.get_user, get_hub(request), _signed_in(actor))
    return ok(user_json(user))


@router.put(
    "/api/v1/user/password",
    responses=WRITE_ERRORS,
    openapi_extra=json_body("old_password", "new_password", old_password=TEXT, new_password=TEXT),
)
async def change_password(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    body = await read_json_object(request)
    hub = get_hub(request)
    _signed_in(actor)
    await run_in_threadpool(
        lambda: accounts.change_password(
            hub,
            actor,
            old_password=text_field(body, "old_password", required=True),
            new_password=text_field(body, "new_password", required=True),
        )
    )
    return ok(None)


@router.get("/api/v1/user/tokens")
async def list_tokens(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    _signed_in(actor)
    found = await run_in_threadpool(tokens.list_tokens, get_hub(request), actor)
    return ok([token_json(t) for t in found])


def _grant_specs(body: dict[str, Any]) -> list[tokens.GrantSpec]:
    raw = body.get("grants") or []
    if not isinstance(raw, list):
        raise InvalidArgument("'grants' must be a list of {target, actions}")
    specs = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("actions"), list):
            raise InvalidArgument('Each grant is {"target": "model:ns/name", "actions": ["read", ...]}')
        actions = text_list_field(item, "actions") or []
        specs.append(tokens.GrantSpec(text_field(item, "target", required=True), tuple(actions)))
    return specs


@router.post(
    "/api/v1/user/tokens",
    status_code=201,
    responses=WRITE_ERRORS,
    openapi_extra=json_body("name", name=TEXT, scope=TEXT, grants=GRANTS, expires_in_days=WHOLE),
)
async def create_token(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    _signed_in(actor)
    if actor.scope != "write":
        raise InvalidArgument("Create tokens while signed in with a password, a session or a write token")
    body = await read_json_object(request)
    days = int_field(body, "expires_in_days")
    token, view = await run_in_threadpool(
        lambda: tokens.create_token(
            get_hub(request),
            actor.name,
            name=text_field(body, "name", required=True),
            scope=text_field(body, "scope", default="read"),
            grants=_grant_specs(body),
            expires_in_days=days,
            actor=actor,
        )
    )
    return ok({**token_json(view), "token": token}, status_code=201)


@router.delete("/api/v1/user/tokens/{token_id}", responses=WRITE_ERRORS)
async def revoke_token(request: Request, token_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    _signed_in(actor)
    await run_in_threadpool(tokens.revoke_token, get_hub(request), actor, token_id)
    return ok(None)


def invitation_json(inv: orgs.InvitationView) -> dict[str, Any]:
    return {
        "id": inv.id,
        "organization": inv.org,
        "user": inv.user,
        "role": inv.role,
        "invited_by": inv.invited_by,
        "created_at": iso(inv.created_at),
    }


@router.get("/api/v1/user/invitations")
async def my_invitations(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    _signed_in(actor)
    found = await run_in_threadpool(orgs.list_my_invitations, get_hub(request), actor)
    return ok([invitation_json(i) for i in found])


@router.post("/api/v1/user/invitations/{invitation_id}/{answer}", responses=WRITE_ERRORS)
async def answer_invitation(
    request: Request, invitation_id: RowId, answer: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    _signed_in(actor)
    if answer not in ("accept", "decline"):
        raise InvalidArgument("Answer an invitation with /accept or /decline")
    await run_in_threadpool(
        lambda: orgs.answer_invitation(get_hub(request), actor, invitation_id, accept=answer == "accept")
    )
    return ok(None)
