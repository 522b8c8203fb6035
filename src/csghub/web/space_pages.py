"""A space's pages in the portal: `/spaces/{owner}/{name}` embeds the running app (served by the hub at
`/apps/{owner}/{name}/`, transport/space_proxy.py) in a sandboxed iframe, with the space's state and, when
it is not running, the reason (a failed build shows pip's error lines); `/spaces/{owner}/{name}/logs`
follows the build and run logs live (static/spaces.js). The Files, Commits and Community tabs are every
repository's; the space's own settings are a section of its settings page (web/space_settings.py).

A space without an SDK this hub runs is a plain repository: its page shows its README and says so."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import NotFound
from csghub.core.names import RepoType
from csghub.http.errors import PAGE_ROUTES
from csghub.http.repos import RepoContext
from csghub.services.community import likes
from csghub.services.permissions import Action, can
from csghub.services.repositories import files
from csghub.web import mirror_panels, space_states
from csghub.web.markdown import MarkdownFile, cached_card
from csghub.web.markdown_links import RepoLinks
from csghub.web.page_repos import page_repo
from csghub.web.pages import use_snippets
from csghub.web.render import render, repo_path
from csghub.web.space_cards import space_cards

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
MAX_README = 512 * 1024
# The app's document gets an opaque origin: it may run scripts and forms and open windows, but never
# read the hub's cookies or act with the visitor's session (no allow-same-origin).
SANDBOX = "allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads"


def app_url(owner: str, name: str) -> str:
    return f"/apps/{owner}/{name}/"


def _readme(at: RepoContext) -> str:
    """The README's HTML without its front matter, '' when there is none (or it is too large to show)."""
    if not can(at.actor, Action.DOWNLOAD, at.repo.resource):
        return ""
    snapshot = files.at_revision(at.hub, at.actor, at.repo, None)
    readme = next((e for e in files.all_files(snapshot) if e.path.lower() == "readme.md"), None)
    if readme is None or readme.lfs is not None or readme.size > MAX_README:
        return ""
    text = files.read_small_file(snapshot, readme).decode("utf-8", errors="replace")
    links = RepoLinks(repo_path(at.repo.type, at.repo.full_name), at.repo.default_branch)
    return cached_card(at.hub, MarkdownFile(at.repo.id, snapshot.sha, readme.path, links, text))


def space_context(at: RepoContext, tab: str) -> dict[str, Any]:
    """What every page of a space shows above its tab: the repository header, its card and its state."""
    repo = at.repo
    status = space_states.find_status(at.hub, at.actor, repo)
    card = space_cards(at.hub, at.actor, [repo], {repo.id: status.state})[repo.id]
    return {
        "repo": repo,
        "base": repo_path(repo.type, repo.full_name),
        "revision": repo.default_branch,
        "tab": tab,
        "liked": likes.has_liked(at.hub, at.actor, repo),
        "mirror": mirror_panels.find_panel(at.hub, at.actor, repo),
        "space": card,
        "space_status": status,
        "app_url": app_url(repo.namespace, repo.name),
        "sandbox": SANDBOX,
    }


def _app_page(request: Request, at: RepoContext) -> Response:
    context = space_context(at, "app")
    readme = _readme(at)
    snippets = use_snippets(request, at.hub, at.repo)
    return render(request, "space.html", readme=readme, snippets=snippets, **context)


def _logs_page(request: Request, at: RepoContext) -> Response:
    if not space_states.may_read_logs(at.actor, at.repo):
        raise NotFound("Page not found")
    context = space_context(at, "logs")
    if not context["space"].sdk:
        raise NotFound("Page not found")
    return render(request, "space_logs.html", logs_url=space_states.logs_url(at.repo), **context)


opened = Depends(page_repo(RepoType.SPACE))


@router.get("/spaces/{ns}/{name}", response_class=HTMLResponse)
async def space_page(request: Request, at: RepoContext = opened) -> Response:
    return await run_in_threadpool(_app_page, request, at)


@router.get("/spaces/{ns}/{name}/logs", response_class=HTMLResponse)
async def logs_page(request: Request, at: RepoContext = opened) -> Response:
    return await run_in_threadpool(_logs_page, request, at)
