"""Editing a profile in the portal: one's own (from /settings) and an organization's (from its settings):
full name, bio, links, and an avatar uploaded as a file. The rules (who may, what is a valid link, which
images are taken) are services/identity/profile_details.py's and avatars.py's; a refusal is the error page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from csghub.core.errors import PermissionDenied
from csghub.http.deps import get_actor, get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.services.identity import avatars, profile_details
from csghub.services.permissions import Actor
from csghub.web.forms import form_actor, redirect_with_notice
from csghub.web.security import CSRF_FIELD, check_form_csrf

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)


def _where(actor: Actor, org: str | None) -> tuple[str, str, str]:
    """The namespace edited, the settings page to return to, and the path its notice cookie is for."""
    if org is None:
        return actor.name, "/settings#profile", "/settings"
    return org, f"/organizations/{org}/settings#profile", "/organizations"


async def _save_details(request: Request, org: str | None) -> Response:
    fields, actor = await form_actor(request)
    name, back, path = _where(actor, org)
    links = {kind: fields.get(f"link_{kind}", "") for kind in profile_details.LINK_KINDS}
    await run_in_threadpool(
        lambda: profile_details.update_details(
            get_hub(request),
            actor,
            name,
            full_name=fields.get("full_name", ""),
            bio=fields.get("bio", ""),
            links=links,
        )
    )
    return redirect_with_notice(request, actor, back, "Profile saved", path=path)


async def _save_avatar(request: Request, org: str | None) -> Response:
    form = await request.form()
    check_form_csrf(request, str(form.get(CSRF_FIELD, "")))
    actor = await get_actor(request)
    if actor.is_anonymous:
        raise PermissionDenied("Sign in first")
    name, back, path = _where(actor, org)
    upload = form.get("avatar")
    data = None
    if form.get("remove") != "1":
        # One byte past the bound is enough for the service to refuse it as too large.
        data = await upload.read(avatars.MAX_BYTES + 1) if isinstance(upload, UploadFile) else b""
    await run_in_threadpool(profile_details.set_avatar, get_hub(request), actor, name, data)
    notice = "Avatar removed" if data is None else "Avatar saved"
    return redirect_with_notice(request, actor, back, notice, path=path)


@router.post("/settings/profile", response_class=HTMLResponse)
async def save_my_details(request: Request) -> Response:
    return await _save_details(request, None)


@router.post("/settings/avatar", response_class=HTMLResponse)
async def save_my_avatar(request: Request) -> Response:
    return await _save_avatar(request, None)


@router.post("/organizations/{org}/settings/details", response_class=HTMLResponse)
async def save_org_details(request: Request, org: str) -> Response:
    return await _save_details(request, org)


@router.post("/organizations/{org}/settings/avatar", response_class=HTMLResponse)
async def save_org_avatar(request: Request, org: str) -> Response:
    return await _save_avatar(request, org)
