"""A repository's social side in the portal: the like button and the Community tab (discussions with
markdown comments, close and reopen). Forms post, pass their CSRF check, call one service, and
redirect; a failed form shows its page again with the message.

Mounted after pages.py: `/{ns}/{name}/discussions` has the shape of a dataset's page
(`/datasets/{ns}/{name}`), and a dataset named "discussions" must still reach its page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError
from csghub.core.names import RepoId, RepoType
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.params import RowId, page_number
from csghub.services.community import discussions, likes, pulls
from csghub.services.context import Hub
from csghub.services.permissions import Actor
from csghub.services.repositories import repos
from csghub.services.repositories.writes import VIA_WEB
from csghub.web.forms import form_actor
from csghub.web.markdown import render_markdown
from csghub.web.markdown_links import RepoLinks
from csghub.web.pull_pages import pull_page
from csghub.web.render import page_actor, render, repo_path

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
PAGE_SIZE = 30


def header_context(hub: Hub, actor: Actor, repo: repos.RepoView, tab: str) -> dict[str, Any]:
    """What _repo_header.html needs on the Community pages."""
    return {
        "repo": repo,
        "base": repo_path(repo.type, repo.full_name),
        "revision": repo.default_branch,
        "tab": tab,
        "liked": likes.has_liked(hub, actor, repo),
    }


def _back(fields: dict[str, str], fallback: str) -> str:
    # Only our own paths: a form must not become an open redirect.
    target = fields.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else fallback


async def _guarded(request: Request, work: Any) -> Response:
    """Run a page's work in a thread (a failure becomes the error page: see http/errors.py)."""
    await page_actor(request)
    return await run_in_threadpool(work)


def _list_page(request: Request, repo_type: RepoType, repo_id: RepoId) -> Response:
    hub, actor = get_hub(request), request.state.actor
    params = request.query_params
    status = params.get("status", "open")
    status = status if status in discussions.STATUSES else "open"
    kind = params.get("type", "")
    kind = kind if kind in discussions.KINDS else ""
    page = page_number(params.get("page"))
    repo = repos.get_repo(hub, actor, repo_type, repo_id)
    found = discussions.list_discussions(
        hub, actor, repo_type, repo_id, status=status, kind=kind, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    last = max(1, math.ceil(found.total / PAGE_SIZE))
    if page > last:
        # Past the end: the last page, at its own URL, as the listings do.
        target = f"{repo_path(repo.type, repo.full_name)}/discussions?status={status}&type={kind}"
        return RedirectResponse(target + (f"&page={last}" if last > 1 else ""), status_code=303)
    return render(
        request,
        "community.html",
        found=found,
        shown=status,
        kind=kind,
        page=page,
        more=found.total > page * PAGE_SIZE,
        **header_context(hub, actor, repo, "community"),
    )


def _discussion_page(
    request: Request, repo_type: RepoType, repo_id: RepoId, number: int, *, error: str = "", status: int = 200
) -> Response:
    hub, actor = get_hub(request), request.state.actor
    found = discussions.get_discussion(hub, actor, repo_type, repo_id, number)
    if found.is_pull_request:
        context = header_context(hub, actor, found.repo, "community")
        return pull_page(request, repo_type, repo_id, number, context, error=error, status=status)
    # A comment's relative links and images mean the repository's files on its default branch.
    links = RepoLinks(repo_path(found.repo.type, found.repo.full_name), found.repo.default_branch)
    events = [(e, render_markdown(e.body, links) if e.kind == "comment" else "") for e in found.events]
    return render(
        request,
        "discussion.html",
        status=status,
        discussion=found,
        events=events,
        error=error,
        **header_context(hub, actor, found.repo, "community"),
    )


def _routes(prefix: str, repo_type: RepoType) -> None:
    @router.post(prefix + "/{ns}/{name}/like")
    async def like(request: Request, ns: str, name: str) -> Response:
        fields, actor = await form_actor(request)
        liked = fields.get("action", "like") == "like"
        await run_in_threadpool(likes.set_like, get_hub(request), actor, repo_type, RepoId.of(ns, name), liked)
        return RedirectResponse(_back(fields, repo_path(repo_type, f"{ns}/{name}")), status_code=303)

    @router.get(prefix + "/{ns}/{name}/discussions", response_class=HTMLResponse)
    async def discussion_list(request: Request, ns: str, name: str) -> Response:
        return await _guarded(request, lambda: _list_page(request, repo_type, RepoId.of(ns, name)))

    @router.get(prefix + "/{ns}/{name}/discussions/new", response_class=HTMLResponse)
    async def new_discussion_form(request: Request, ns: str, name: str) -> Response:
        actor = await page_actor(request)
        if actor.is_anonymous:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

        def work() -> Response:
            repo = repos.get_repo(get_hub(request), actor, repo_type, RepoId.of(ns, name))
            context = header_context(get_hub(request), actor, repo, "community")
            return render(request, "discussion_new.html", form={}, error="", **context)

        return await _guarded(request, work)

    @router.post(prefix + "/{ns}/{name}/discussions/new", response_class=HTMLResponse)
    async def open_discussion(request: Request, ns: str, name: str) -> Response:
        hub, repo_id = get_hub(request), RepoId.of(ns, name)
        fields, actor = await form_actor(request)
        try:
            made = await run_in_threadpool(
                discussions.open_discussion,
                hub,
                actor,
                repo_type,
                repo_id,
                fields.get("title", ""),
                fields.get("description", ""),
            )
        except HubError as exc:
            failed = exc
            return await _guarded(request, lambda: _form_again(request, repo_type, repo_id, fields, failed))
        return RedirectResponse(f"{repo_path(repo_type, made.repo.full_name)}/discussions/{made.number}", 303)

    @router.get(prefix + "/{ns}/{name}/discussions/{number:int}", response_class=HTMLResponse)
    async def discussion_page(request: Request, ns: str, name: str, number: RowId) -> Response:
        return await _guarded(request, lambda: _discussion_page(request, repo_type, RepoId.of(ns, name), number))

    @router.post(prefix + "/{ns}/{name}/discussions/{number:int}/comment", response_class=HTMLResponse)
    async def comment(request: Request, ns: str, name: str, number: RowId) -> Response:
        def act(hub: Hub, actor: Actor, fields: dict[str, str]) -> object:
            text = fields.get("comment", "")
            return discussions.add_comment(hub, actor, repo_type, RepoId.of(ns, name), number, text)

        return await _discussion_action(request, repo_type, RepoId.of(ns, name), number, act)

    @router.post(
        prefix + "/{ns}/{name}/discussions/{number:int}/comments/{comment_id:int}/edit", response_class=HTMLResponse
    )
    async def edit_comment(request: Request, ns: str, name: str, number: RowId, comment_id: RowId) -> Response:
        def act(hub: Hub, actor: Actor, fields: dict[str, str]) -> object:
            text = fields.get("comment", "")
            return discussions.edit_comment(hub, actor, repo_type, RepoId.of(ns, name), number, comment_id, text)

        return await _discussion_action(request, repo_type, RepoId.of(ns, name), number, act)

    @router.post(prefix + "/{ns}/{name}/discussions/{number:int}/merge", response_class=HTMLResponse)
    async def merge(request: Request, ns: str, name: str, number: RowId) -> Response:
        def act(hub: Hub, actor: Actor, fields: dict[str, str]) -> object:
            note = fields.get("comment", "")
            return pulls.merge_pull(hub, actor, repo_type, RepoId.of(ns, name), number, comment=note, via=VIA_WEB)

        return await _discussion_action(request, repo_type, RepoId.of(ns, name), number, act)

    @router.post(prefix + "/{ns}/{name}/discussions/{number:int}/status", response_class=HTMLResponse)
    async def change_status(request: Request, ns: str, name: str, number: RowId) -> Response:
        def act(hub: Hub, actor: Actor, fields: dict[str, str]) -> object:
            status, text = fields.get("status", ""), fields.get("comment", "")
            return discussions.set_status(hub, actor, repo_type, RepoId.of(ns, name), number, status, comment=text)

        return await _discussion_action(request, repo_type, RepoId.of(ns, name), number, act)


async def _discussion_action(
    request: Request,
    repo_type: RepoType,
    repo_id: RepoId,
    number: RowId,
    act: Callable[[Hub, Actor, dict[str, str]], object],
) -> Response:
    """Post/redirect/get for a discussion's forms; a rejected comment shows the page with the reason."""
    hub = get_hub(request)
    try:
        fields, actor = await form_actor(request)
        await run_in_threadpool(act, hub, actor, fields)
    except HubError as exc:
        if exc.status not in (400, 409):
            raise
        failed = exc
        return await _guarded(
            request,
            lambda: _discussion_page(request, repo_type, repo_id, number, error=failed.message, status=failed.status),
        )
    return RedirectResponse(f"{repo_path(repo_type, str(repo_id))}/discussions/{number}", status_code=303)


def _form_again(
    request: Request, repo_type: RepoType, repo_id: RepoId, fields: dict[str, str], exc: HubError
) -> Response:
    if exc.status not in (400, 409):
        raise exc
    hub, actor = get_hub(request), request.state.actor
    repo = repos.get_repo(hub, actor, repo_type, repo_id)
    context = header_context(hub, actor, repo, "community")
    return render(request, "discussion_new.html", status=exc.status, form=fields, error=exc.message, **context)


for _type in (RepoType.DATASET, RepoType.SPACE, RepoType.CODE):
    _routes(f"/{_type.plural}", _type)
_routes("", RepoType.MODEL)
