"""Site administration under /admin: system status, users (search, disable and enable, administrator
rights, password reset), organizations, every repository, and the audit log. The services decide who
may look (authorize MANAGE on SITE): anyone else gets the error page they answer with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, NotFound
from csghub.core.names import RepoType
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.params import MAX_ID, lenient_index, page_number
from csghub.services import admin_stats, audit
from csghub.services.context import Hub
from csghub.services.identity import accounts, orgs
from csghub.services.permissions import Actor
from csghub.services.repositories import repos
from csghub.web.forms import drop_notice, form_actor, redirect_with_notice, run_page, take_notice
from csghub.web.render import render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
PAGE_SIZE = 50
_TYPES = {t.value: t for t in (RepoType.MODEL, RepoType.DATASET, RepoType.SPACE, RepoType.CODE)}


def page_of(request: Request) -> int:
    return page_number(request.query_params.get("page"))


def pager(path: str, keep: dict[str, str], page: int, more: bool) -> dict[str, str | None]:
    def link(number: int) -> str:
        query = {k: v for k, v in keep.items() if v} | ({"page": str(number)} if number > 1 else {})
        return f"{path}?{urlencode(query)}" if query else path

    return {"prev_url": link(page - 1) if page > 1 else None, "next_url": link(page + 1) if more else None}


async def admin_page(request: Request, template: str, load: Callable[[Hub, Actor], dict[str, Any]]) -> Response:
    hub = get_hub(request)

    def work(actor: Actor) -> Response:
        context = load(hub, actor)
        page = render(request, template, notice=take_notice(request, actor), error=None, **context)
        return drop_notice(request, page, "/admin")

    return await run_page(request, work)


@router.get("/admin", response_class=HTMLResponse)
async def status_page(request: Request) -> Response:
    return await admin_page(
        request,
        "admin_status.html",
        lambda hub, actor: {"tab": "status", "site": admin_stats.site_status(hub, actor)},
    )


def _users_context(request: Request, hub: Hub, actor: Actor) -> dict[str, Any]:
    search, page = request.query_params.get("q", "").strip(), page_of(request)
    # One more than a page tells whether there is a next one.
    found = accounts.list_users(hub, actor, search=search, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return {
        "tab": "users",
        "search": search,
        "users": found[:PAGE_SIZE],
        "back": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        **pager("/admin/users", {"q": search}, page, len(found) > PAGE_SIZE),
    }


@router.get("/admin/users", response_class=HTMLResponse)
async def users_page(request: Request) -> Response:
    return await admin_page(request, "admin_users.html", lambda hub, actor: _users_context(request, hub, actor))


_USER_ACTIONS: dict[str, tuple[dict[str, bool], str]] = {
    "disable": ({"disabled": True}, "Account disabled"),
    "enable": ({"disabled": False}, "Account enabled"),
    "grant-admin": ({"is_admin": True}, "Administrator rights granted"),
    "revoke-admin": ({"is_admin": False}, "Administrator rights removed"),
}


@router.post("/admin/users/{name}/{change}", response_class=HTMLResponse)
async def change_user(request: Request, name: str, change: str) -> Response:
    hub = get_hub(request)
    fields, actor = await form_actor(request)
    back = fields.get("back", "")
    back = back if back.startswith("/admin/users") else "/admin/users"

    def work() -> str:
        if change == "password":
            accounts.reset_password(hub, actor, name, fields.get("new_password", ""))
            return "Password reset"
        if change not in _USER_ACTIONS:
            raise NotFound(f"Unknown change '{change}'")
        flags, notice = _USER_ACTIONS[change]
        accounts.update_user(hub, actor, name, **flags)
        return notice

    try:
        notice = await run_in_threadpool(work)
    except HubError as exc:
        context = await run_in_threadpool(_users_context, request, hub, actor)
        return render(request, "admin_users.html", status=exc.status, notice=None, error=exc.message, **context)
    return redirect_with_notice(request, actor, back, notice, path="/admin")


@router.get("/admin/orgs", response_class=HTMLResponse)
async def orgs_page(request: Request) -> Response:
    search, page = request.query_params.get("q", "").strip(), page_of(request)

    def load(hub: Hub, actor: Actor) -> dict[str, Any]:
        found = orgs.list_orgs(hub, actor, search=search, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
        pages = pager("/admin/orgs", {"q": search}, page, len(found) > PAGE_SIZE)
        return {"tab": "orgs", "search": search, "orgs": found[:PAGE_SIZE], **pages}

    return await admin_page(request, "admin_orgs.html", load)


@router.get("/admin/repos", response_class=HTMLResponse)
async def repos_page(request: Request) -> Response:
    params = request.query_params
    search, page, kind = params.get("q", "").strip(), page_of(request), params.get("type", "model")
    repo_type = _TYPES.get(kind, RepoType.MODEL)

    def load(hub: Hub, actor: Actor) -> dict[str, Any]:
        query = repos.RepoQuery(
            repo_type=repo_type, search=search, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, sort="name"
        )
        found, total = admin_stats.list_all_repos(hub, actor, query)
        keep = {"type": repo_type.value, "q": search}
        pages = pager("/admin/repos", keep, page, page * PAGE_SIZE < total)
        return {"tab": "repos", "search": search, "kind": repo_type.value, "repos": found, "total": total, **pages}

    return await admin_page(request, "admin_repos.html", load)


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_page(request: Request) -> Response:
    params = request.query_params
    action = params.get("action", "").strip()
    before = min(lenient_index(params.get("before")), MAX_ID) or None

    def load(hub: Hub, actor: Actor) -> dict[str, Any]:
        events = audit.list_events(hub, actor, action=action, before_id=before, limit=PAGE_SIZE + 1)
        more = len(events) > PAGE_SIZE
        events = events[:PAGE_SIZE]
        query = {"action": action} if action else {}
        newer = f"/admin/audit?{urlencode(query)}" if before is not None else None
        older = f"/admin/audit?{urlencode({**query, 'before': events[-1].id})}" if more else None
        return {
            "tab": "audit",
            "action": action,
            "actions": audit.list_actions(hub, actor),
            "events": events,
            "prev_url": newer,
            "next_url": older,
        }

    return await admin_page(request, "admin_audit.html", load)
