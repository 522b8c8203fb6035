"""A repository's branches and tags (create a branch from a revision, delete one) and a commit's diff.

Listing needs READ, creating and deleting branches WRITE; the services in refs.py and files.py decide.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, PermissionDenied
from csghub.core.names import RepoId, RepoType
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.repos import page_repo_id
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, can
from csghub.services.repositories import files, refs, repos
from csghub.services.repositories.writes import VIA_WEB
from csghub.web import mirror_panels
from csghub.web.render import correctable, page_actor, render, repo_path
from csghub.web.security import CSRF_FIELD, check_form_csrf

# Datasets, spaces and code under their plural; models at the root, whose routes go after every
# module's typed ones (see routes.py), so `/datasets/{ns}/{name}/...` is never read as a model's path.
router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
model_router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)


def _branches_context(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId) -> dict[str, Any]:
    repo = repos.get_repo(hub, actor, repo_type, repo_id)
    mirror = mirror_panels.find_panel(hub, actor, repo)
    return {
        "mirror": mirror,
        "repo": repo,
        "base": repo_path(repo.type, repo.full_name),
        "revision": repo.default_branch,
        "tab": "branches",
        "refs": refs.list_refs(hub, actor, repo),
        "can_write": can(actor, Action.WRITE, repo.resource) and mirror is None,  # a mirror is read-only
    }


async def _branches(
    request: Request, repo_type: RepoType, ns: str, name: str, error: HubError | None = None, form: Any = None
) -> Response:
    hub, actor = get_hub(request), request.state.actor
    context = await run_in_threadpool(_branches_context, hub, actor, repo_type, page_repo_id(ns, name))
    return render(
        request,
        "branches.html",
        status=error.status if error else 200,
        error=error.message if error else None,
        form=form or {},
        **context,
    )


async def _change(
    request: Request, repo_type: RepoType, ns: str, name: str, work: Callable[[Hub, Actor, repos.RepoView, Any], None]
) -> Response:
    """One branch change from a form, then back to the list (or the list with the reason it failed)."""
    hub = get_hub(request)
    fields: dict[str, str] = {}
    try:
        form = await request.form()
        fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
        check_form_csrf(request, fields.get(CSRF_FIELD, ""))
        # Only now: the session asks for a CSRF proof, which the form's token just gave.
        actor = await page_actor(request)
        if actor.is_anonymous:
            raise PermissionDenied("Sign in first")
        repo = await run_in_threadpool(repos.get_repo, hub, actor, repo_type, RepoId.of(ns, name))
        await run_in_threadpool(work, hub, actor, repo, fields)
    except HubError as exc:
        if correctable(exc):
            return await _branches(request, repo_type, ns, name, exc, fields)
        raise
    return RedirectResponse(f"{repo_path(repo.type, repo.full_name)}/branches", status_code=303)


def _commit_page(request: Request, repo_type: RepoType, ns: str, name: str, sha: str) -> Response:
    hub, actor = get_hub(request), request.state.actor
    repo = repos.get_repo(hub, actor, repo_type, page_repo_id(ns, name))
    detail = files.commit_detail(hub, actor, repo, sha)
    additions = sum(p.additions for p in detail.files)
    deletions = sum(p.deletions for p in detail.files)
    return render(
        request,
        "commit.html",
        repo=repo,
        base=repo_path(repo.type, repo.full_name),
        revision=repo.default_branch,
        tab="commits",
        commit=detail.info,
        body=detail.info.message.split("\n", 1)[1].strip() if "\n" in detail.info.message else "",
        patches=detail.files,
        additions=additions,
        deletions=deletions,
    )


def _routes(router: APIRouter, prefix: str, repo_type: RepoType) -> None:
    @router.get(prefix + "/{ns}/{name}/branches", response_class=HTMLResponse)
    async def branches_page(request: Request, ns: str, name: str) -> Response:
        await page_actor(request)
        return await _branches(request, repo_type, ns, name)

    @router.post(prefix + "/{ns}/{name}/branches", response_class=HTMLResponse)
    async def create_branch(request: Request, ns: str, name: str) -> Response:
        def work(hub: Hub, actor: Actor, repo: repos.RepoView, fields: dict[str, str]) -> None:
            start = fields.get("start", "").strip() or None
            refs.create_branch(hub, actor, repo, fields.get("branch", "").strip(), start=start, via=VIA_WEB)

        return await _change(request, repo_type, ns, name, work)

    @router.post(prefix + "/{ns}/{name}/branches/delete", response_class=HTMLResponse)
    async def delete_branch(request: Request, ns: str, name: str) -> Response:
        def work(hub: Hub, actor: Actor, repo: repos.RepoView, fields: dict[str, str]) -> None:
            refs.delete_branch(hub, actor, repo, fields.get("branch", ""), via=VIA_WEB)

        return await _change(request, repo_type, ns, name, work)

    @router.get(prefix + "/{ns}/{name}/commit/{sha}", response_class=HTMLResponse)
    async def commit_page(request: Request, ns: str, name: str, sha: str) -> Response:
        await page_actor(request)
        return await run_in_threadpool(_commit_page, request, repo_type, ns, name, sha)


for _type in (RepoType.DATASET, RepoType.SPACE, RepoType.CODE):
    _routes(router, f"/{_type.plural}", _type)
_routes(model_router, "", RepoType.MODEL)
