"""A repository's settings, for its administrators: visibility, gating and access requests,
collaborators, rename or move, and delete. Also the "Request access" button of a gated repository.

Every change is one service call; the services decide who may (404 for what the actor cannot see,
403 for what they see but may not change). Forms post, then redirect back (post/redirect/get) with a
short signed notice in a cookie scoped to the settings page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, InvalidArgument, NotFound, PermissionDenied
from csghub.core.names import RepoId, RepoType
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.repos import page_repo_id
from csghub.services.context import Hub
from csghub.services.permissions import ROLES, VISIBILITIES, Action, Actor
from csghub.services.repositories import collaborators, gating, repos
from csghub.web import space_settings
from csghub.web.forms import drop_notice, redirect_with_notice, take_notice
from csghub.web.render import correctable, page_actor, render, repo_path
from csghub.web.security import CSRF_FIELD, check_form_csrf

# Datasets, spaces and code under their plural; models at the root, whose routes go after every
# module's typed ones (see routes.py), so `/datasets/{ns}/{name}/...` is never read as a model's path.
router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
model_router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)

GATE_CHOICES = (("", "Off"), ("auto", "Automatic approval"), ("manual", "Manual approval"))


@dataclass(frozen=True, slots=True)
class Outcome:
    location: str
    notice: str = ""


def _settings_url(repo_type: RepoType, full_name: str) -> str:
    return f"{repo_path(repo_type, full_name)}/settings"


def _settings_context(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId) -> dict[str, Any]:
    repo = repos.get_repo(hub, actor, repo_type, repo_id, Action.ADMIN)
    requests = (
        {s: gating.list_requests(hub, actor, repo_type, repo_id, s) for s in gating.STATUSES} if repo.gated else {}
    )
    # A space's own section (hardware, sleep, secrets, variables...) leads its settings page.
    extra = space_settings.settings_context(hub, actor, repo) if repo_type is RepoType.SPACE else {}
    return {
        **extra,
        "repo": repo,
        "base": repo_path(repo.type, repo.full_name),
        "revision": repo.default_branch,
        "tab": "settings",
        "collaborators": collaborators.list_collaborators(hub, actor, repo_type, repo_id),
        "requests": requests,
        "visibilities": VISIBILITIES,
        "gate_choices": GATE_CHOICES,
        "roles": ROLES,
    }


async def _show(request: Request, repo_type: RepoType, repo_id: RepoId, error: HubError | None = None) -> Response:
    hub, actor = get_hub(request), request.state.actor
    context = await run_in_threadpool(_settings_context, hub, actor, repo_type, repo_id)
    notice = (take_notice(request, actor) or "") if error is None else ""
    status = error.status if error is not None else 200
    message = error.message if error is not None else None
    response = render(request, "repo_settings.html", status=status, error=message, notice=notice, **context)
    return drop_notice(request, response, _settings_url(repo_type, context["repo"].full_name))


async def _act(
    request: Request,
    repo_type: RepoType,
    repo_id: RepoId,
    work: Callable[[Hub, Actor, dict[str, str]], Outcome],
    *,
    on_settings: bool = True,
) -> Response:
    """Check the form, run one change, then redirect with its notice (or show what went wrong)."""
    hub = get_hub(request)
    try:
        form = await request.form()
        fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
        check_form_csrf(request, fields.get(CSRF_FIELD, ""))
        # Only now: the session asks for a CSRF proof, which the form's token just gave.
        actor = await page_actor(request)
        if actor.is_anonymous:
            raise PermissionDenied("Sign in first")
        outcome = await run_in_threadpool(work, hub, actor, fields)
    except HubError as exc:
        if on_settings and correctable(exc):
            return await _show(request, repo_type, repo_id, exc)
        raise
    if outcome.notice:
        return redirect_with_notice(request, actor, outcome.location, outcome.notice, path=outcome.location)
    return RedirectResponse(outcome.location, status_code=303)


def _routes(router: APIRouter, prefix: str, repo_type: RepoType) -> None:
    @router.get(prefix + "/{ns}/{name}/settings", response_class=HTMLResponse)
    async def settings_page(request: Request, ns: str, name: str) -> Response:
        actor = await page_actor(request)
        if actor.is_anonymous:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return await _show(request, repo_type, page_repo_id(ns, name))

    @router.post(prefix + "/{ns}/{name}/settings/{section}", response_class=HTMLResponse)
    async def change(request: Request, ns: str, name: str, section: str) -> Response:
        actions = {
            "visibility": _visibility,
            "gating": _gating,
            "access": _access,
            "collaborators": _collaborator,
            "collaborators-remove": _remove_collaborator,
            "rename": _rename,
            "delete": _delete,
        }
        repo_id = page_repo_id(ns, name)
        action = actions.get(section) or _space_action(repo_type, section)
        if action is None:
            raise NotFound("Page not found")
        return await _act(request, repo_type, repo_id, lambda hub, actor, f: action(hub, actor, repo_type, repo_id, f))

    @router.post(prefix + "/{ns}/{name}/request-access", response_class=HTMLResponse)
    async def request_access(request: Request, ns: str, name: str) -> Response:
        repo_id = page_repo_id(ns, name)

        def work(hub: Hub, actor: Actor, _fields: dict[str, str]) -> Outcome:
            gating.request_access(hub, actor, repo_type, repo_id)
            return Outcome(repo_path(repo_type, str(repo_id)))

        return await _act(request, repo_type, repo_id, work, on_settings=False)


def _space_action(repo_type: RepoType, section: str) -> Callable[..., Outcome] | None:
    """A space's own settings (web/space_settings.py), answered like the others: back here with a notice."""
    act = space_settings.ACTIONS.get(section) if repo_type is RepoType.SPACE else None
    if act is None:
        return None

    def work(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, fields: dict[str, str]) -> Outcome:
        return Outcome(_settings_url(repo_type, str(repo_id)), act(hub, actor, repo_id, fields))

    return work


def _visibility(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, fields: dict[str, str]) -> Outcome:
    view = repos.update_settings(hub, actor, repo_type, repo_id, visibility=fields.get("visibility", ""))
    return Outcome(_settings_url(repo_type, view.full_name), "Visibility saved")


def _gating(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, fields: dict[str, str]) -> Outcome:
    view = repos.update_settings(hub, actor, repo_type, repo_id, gated=fields.get("gated", ""))
    return Outcome(_settings_url(repo_type, view.full_name), "Access requests saved")


def _access(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, fields: dict[str, str]) -> Outcome:
    status = fields.get("status", "")
    gating.decide(hub, actor, repo_type, repo_id, fields.get("user", ""), status)
    notice = {"accepted": "Request accepted", "rejected": "Request rejected"}.get(status, "Request reset")
    return Outcome(_settings_url(repo_type, str(repo_id)), notice)


def _collaborator(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, fields: dict[str, str]) -> Outcome:
    user = fields.get("user", "").strip()
    if not user:
        raise InvalidArgument("Enter the username of the collaborator")
    collaborators.set_collaborator(hub, actor, repo_type, repo_id, user, fields.get("role", ""))
    return Outcome(_settings_url(repo_type, str(repo_id)), "Collaborator saved")


def _remove_collaborator(
    hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, fields: dict[str, str]
) -> Outcome:
    collaborators.remove_collaborator(hub, actor, repo_type, repo_id, fields.get("user", ""))
    return Outcome(_settings_url(repo_type, str(repo_id)), "Collaborator removed")


def _rename(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, fields: dict[str, str]) -> Outcome:
    target = RepoId.parse(fields.get("new_name", "").strip())
    view = repos.move_repo(hub, actor, repo_type, repo_id, target)
    return Outcome(_settings_url(repo_type, view.full_name), "Repository renamed")


def _delete(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, fields: dict[str, str]) -> Outcome:
    # The typed name guards against a slip of the mouse; the service still decides who may delete.
    view = repos.get_repo(hub, actor, repo_type, repo_id, Action.ADMIN)
    if fields.get("confirm", "").strip() != view.full_name:
        raise InvalidArgument(f"Type {view.full_name} to confirm that you want to delete it")
    repos.delete_repo(hub, actor, repo_type, repo_id)
    return Outcome(f"/{repo_id.namespace}")


for _type in (RepoType.DATASET, RepoType.SPACE, RepoType.CODE):
    _routes(router, f"/{_type.plural}", _type)
_routes(model_router, "", RepoType.MODEL)
