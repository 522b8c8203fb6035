"""Pages of a signed-in person: create a repository, and settings for access tokens, SSH keys and the
password. Every form carries the CSRF token; every change goes through the same services as the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, InvalidArgument
from csghub.core.names import RepoId, RepoType
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.params import RowId, whole_number
from csghub.services.identity import accounts, orgs, profile_details, ssh_keys, tokens
from csghub.services.permissions import Actor
from csghub.services.repositories import repos
from csghub.web import mirror_panels
from csghub.web.forms import drop_notice, form_actor, read_flash, redirect_with_flash, signed_in_page
from csghub.web.render import render, repo_path

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
LICENSES = (
    "",
    "apache-2.0",
    "mit",
    "bsd-3-clause",
    "cc-by-4.0",
    "cc-by-sa-4.0",
    "cc-by-nc-4.0",
    "gpl-3.0",
    "llama3",
    "openrail",
    "other",
)


def owners_of(hub: Any, actor: Actor) -> list[str]:
    orgs = [name for name, role in accounts.list_user_orgs(hub, actor.user_id or 0) if role in ("write", "admin")]
    return [actor.name, *sorted(orgs)]


@router.get("/new", response_class=HTMLResponse)
async def new_repo_form(request: Request) -> Response:
    found = await signed_in_page(request)
    if isinstance(found, Response):
        return found
    hub = get_hub(request)
    owners = await run_in_threadpool(owners_of, hub, found)
    may_mirror = await run_in_threadpool(mirror_panels.may_create_mirrors, hub, found)
    return render(
        request, "new.html", owners=owners, licenses=LICENSES, form={"type": "model"}, error=None, may_mirror=may_mirror
    )


@router.post("/new", response_class=HTMLResponse)
async def create_repo(request: Request) -> Response:
    hub = get_hub(request)
    fields, actor = await form_actor(request)
    try:
        repo_type = RepoType.parse(fields.get("type", "model"))
        view = await run_in_threadpool(
            lambda: repos.create_repo(
                hub,
                actor,
                repo_type,
                RepoId.of(fields.get("owner", actor.name), fields.get("name", "")),
                visibility=fields.get("visibility", "public"),
                license=fields.get("license", ""),
            )
        )
    except HubError as exc:
        owners = await run_in_threadpool(owners_of, hub, actor)
        return render(
            request, "new.html", status=exc.status, owners=owners, licenses=LICENSES, form=fields, error=exc.message
        )
    return RedirectResponse(repo_path(view.type, view.full_name), status_code=303)


def _settings_context(hub: Any, actor: Actor) -> dict[str, Any]:
    return {
        "profile": profile_details.get_details(hub, actor.name),
        "tokens": tokens.list_tokens(hub, actor),
        "keys": ssh_keys.list_keys(hub, actor),
        "invitations": orgs.list_my_invitations(hub, actor),
        "my_orgs": sorted(accounts.list_user_orgs(hub, actor.user_id or 0), key=lambda pair: pair[0].lower()),
    }


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request) -> Response:
    found = await signed_in_page(request)
    if isinstance(found, Response):
        return found
    hub = get_hub(request)
    # What the last change left to say; a new token is shown here once, then the cookie is gone.
    flash = read_flash(request, found)
    context = await run_in_threadpool(_settings_context, hub, found)
    response = render(
        request, "settings.html", new_token=flash.get("token"), error=None, notice=flash.get("notice"), **context
    )
    return drop_notice(request, response, "/settings")


async def _settings_action(request: Request, action: Callable[[Any, Actor, dict[str, str]], str]) -> Response:
    """Run one settings change, then show the page again with its outcome."""
    hub = get_hub(request)
    fields, actor = await form_actor(request)
    try:
        result = await run_in_threadpool(action, hub, actor, fields)
    except HubError as exc:
        context = await run_in_threadpool(_settings_context, hub, actor)
        return render(
            request, "settings.html", status=exc.status, new_token=None, error=exc.message, notice=None, **context
        )
    # Post/redirect/get: reloading the page must not submit the form again.
    said = {"token": result} if result.startswith(tokens.TOKEN_PREFIX) else {"notice": result}
    return redirect_with_flash(request, actor, "/settings", path="/settings", **said)


@router.post("/settings/tokens", response_class=HTMLResponse)
async def create_token(request: Request) -> Response:
    def action(hub: Any, actor: Actor, fields: dict[str, str]) -> str:
        days = fields.get("expires_in_days", "")
        token, _ = tokens.create_token(
            hub,
            actor.name,
            name=fields.get("name", ""),
            scope=fields.get("scope", "read"),
            expires_in_days=whole_number(days, "expires_in_days"),
            actor=actor,
        )
        return token

    return await _settings_action(request, action)


@router.post("/settings/tokens/{token_id}/revoke", response_class=HTMLResponse)
async def revoke_token(request: Request, token_id: RowId) -> Response:
    def action(hub: Any, actor: Actor, _fields: dict[str, str]) -> str:
        tokens.revoke_token(hub, actor, token_id)
        return "Token revoked"

    return await _settings_action(request, action)


@router.post("/settings/keys", response_class=HTMLResponse)
async def add_key(request: Request) -> Response:
    def action(hub: Any, actor: Actor, fields: dict[str, str]) -> str:
        key = ssh_keys.add_key(hub, actor, fields.get("name", ""), fields.get("content", ""))
        return f"SSH key added: {key.fingerprint}"

    return await _settings_action(request, action)


@router.post("/settings/keys/{key_id}/delete", response_class=HTMLResponse)
async def delete_key(request: Request, key_id: RowId) -> Response:
    def action(hub: Any, actor: Actor, _fields: dict[str, str]) -> str:
        ssh_keys.delete_key(hub, actor, key_id)
        return "SSH key removed"

    return await _settings_action(request, action)


@router.post("/settings/password", response_class=HTMLResponse)
async def change_password(request: Request) -> Response:
    def action(hub: Any, actor: Actor, fields: dict[str, str]) -> str:
        accounts.change_password(
            hub, actor, old_password=fields.get("old_password", ""), new_password=fields.get("new_password", "")
        )
        return "Password changed"

    return await _settings_action(request, action)


@router.post("/settings/invitations/{invitation_id}/{answer}", response_class=HTMLResponse)
async def answer_invitation(request: Request, invitation_id: RowId, answer: str) -> Response:
    def action(hub: Any, actor: Actor, _fields: dict[str, str]) -> str:
        if answer not in ("accept", "decline"):
            raise InvalidArgument("Answer an invitation with accept or decline")
        orgs.answer_invitation(hub, actor, invitation_id, accept=answer == "accept")
        return "Invitation accepted" if answer == "accept" else "Invitation declined"

    return await _settings_action(request, action)


@router.post("/settings/orgs/{org}/leave", response_class=HTMLResponse)
async def leave_org(request: Request, org: str) -> Response:
    def action(hub: Any, actor: Actor, _fields: dict[str, str]) -> str:
        orgs.remove_member(hub, actor, org, actor.name)
        return "You left the organization"

    return await _settings_action(request, action)
