"""Organization pages: create one (/organizations/new) and, for its admins, its settings: profile,
members and their roles, invitations, and the organization's recent audit events. Who may do what is
decided by services/identity/orgs.py (authorize MANAGE on the organization)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.params import RowId
from csghub.services import audit
from csghub.services.context import Hub
from csghub.services.identity import orgs, profile_details
from csghub.services.permissions import ROLES, Actor
from csghub.web import pages
from csghub.web.forms import drop_notice, form_actor, redirect_with_notice, run_page, signed_in_page, take_notice
from csghub.web.render import render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
# Each change answers with this much of the page's outcome: (notice, where to go next).
Outcome = tuple[str, str]


def _settings_url(org: str) -> str:
    return f"/organizations/{org}/settings"


@router.get("/organizations/new", response_class=HTMLResponse)
async def new_org_form(request: Request) -> Response:
    found = await signed_in_page(request)
    if isinstance(found, Response):
        return found
    return render(request, "org_new.html", form={}, error=None)


@router.post("/organizations/new", response_class=HTMLResponse)
async def create_org(request: Request) -> Response:
    hub = get_hub(request)
    fields, actor = await form_actor(request)
    try:
        view = await run_in_threadpool(
            lambda: orgs.create_org(
                hub,
                fields.get("name", "").strip(),
                owner=actor.name,
                full_name=fields.get("full_name", ""),
                actor=actor,
            )
        )
    except HubError as exc:
        return render(request, "org_new.html", status=exc.status, form=fields, error=exc.message)
    return RedirectResponse(f"/{view.name}", status_code=303)


def _settings_context(hub: Hub, actor: Actor, org: str) -> dict[str, Any]:
    # The invitations come first: listing them is what checks that the viewer administers the org.
    invitations = orgs.list_org_invitations(hub, actor, org)
    return {
        "org": orgs.get_org(hub, org),
        "members": orgs.list_members(hub, org),
        "profile": profile_details.get_details(hub, org),
        "invitations": invitations,
        "events": audit.list_events(hub, actor, namespace=org, limit=20),
        "roles": ROLES,
        "me": actor.name.lower(),
    }


@router.get("/organizations/{org}/settings", response_class=HTMLResponse)
async def org_settings(request: Request, org: str) -> Response:
    hub = get_hub(request)

    def work(actor: Actor) -> Response:
        context = _settings_context(hub, actor, org)
        notice = take_notice(request, actor)
        page = render(request, "org_settings.html", error=None, notice=notice, **context)
        return drop_notice(request, page, "/organizations")

    return await run_page(request, work)


@router.get("/{org}/settings", response_class=HTMLResponse)
async def org_settings_alias(request: Request, org: str) -> Response:
    """/{org}/settings is the organization's settings; for a user it stays a model named 'settings'."""
    if await run_in_threadpool(orgs.find_org, get_hub(request), org) is not None:
        return RedirectResponse(_settings_url(org), status_code=303)
    return await pages.model_page(request, org, "settings")


async def _org_action(request: Request, org: str, action: Callable[[Hub, Actor, dict[str, str]], Outcome]) -> Response:
    """Run one change to the organization, then show its settings again with the outcome."""
    hub = get_hub(request)
    fields, actor = await form_actor(request)
    try:
        notice, target = await run_in_threadpool(action, hub, actor, fields)
    except HubError as exc:
        context = await run_in_threadpool(_settings_context, hub, actor, org)
        return render(request, "org_settings.html", status=exc.status, error=exc.message, notice=None, **context)
    return redirect_with_notice(request, actor, target, notice, path="/organizations")


@router.post("/organizations/{org}/settings/profile", response_class=HTMLResponse)
async def update_profile(request: Request, org: str) -> Response:
    def action(hub: Hub, actor: Actor, fields: dict[str, str]) -> Outcome:
        orgs.update_org(hub, actor, org, full_name=fields.get("full_name", ""))
        return "Profile saved", _settings_url(org)

    return await _org_action(request, org, action)


def _after_own_change(actor: Actor, org: str, user: str) -> str:
    # Whoever changes their own membership may no longer see the settings: send them to the profile.
    return f"/{org}" if user.lower() == actor.name.lower() else _settings_url(org)


@router.post("/organizations/{org}/settings/members/{user}/role", response_class=HTMLResponse)
async def change_role(request: Request, org: str, user: str) -> Response:
    def action(hub: Hub, actor: Actor, fields: dict[str, str]) -> Outcome:
        orgs.set_member_role(hub, actor, org, user, fields.get("role", ""))
        return "Role changed", _after_own_change(actor, org, user)

    return await _org_action(request, org, action)


@router.post("/organizations/{org}/settings/members/{user}/remove", response_class=HTMLResponse)
async def remove_member(request: Request, org: str, user: str) -> Response:
    def action(hub: Hub, actor: Actor, _fields: dict[str, str]) -> Outcome:
        orgs.remove_member(hub, actor, org, user)
        return "Member removed", _after_own_change(actor, org, user)

    return await _org_action(request, org, action)


@router.post("/organizations/{org}/settings/invitations", response_class=HTMLResponse)
async def invite(request: Request, org: str) -> Response:
    def action(hub: Hub, actor: Actor, fields: dict[str, str]) -> Outcome:
        orgs.invite(hub, actor, org, fields.get("user", "").strip(), fields.get("role", "read"))
        return "Invitation sent", _settings_url(org)

    return await _org_action(request, org, action)


@router.post("/organizations/{org}/settings/invitations/{invitation_id}/cancel", response_class=HTMLResponse)
async def cancel_invitation(request: Request, org: str, invitation_id: RowId) -> Response:
    def action(hub: Hub, actor: Actor, _fields: dict[str, str]) -> Outcome:
        orgs.cancel_invitation(hub, actor, org, invitation_id)
        return "Invitation cancelled", _settings_url(org)

    return await _org_action(request, org, action)
