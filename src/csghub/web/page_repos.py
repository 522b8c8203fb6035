"""The repository a portal page shows, loaded and authorized once before the page's handler runs.

The portal's counterpart of http/repos.py: pages name a repository as `{ns}/{name}` under a path
that fixes its type, treat a stale session as signed out, and answer a name that cannot exist with
a 404 page. Forms that post are not served by it: their actor is known only once the form's CSRF
token has been read (web/forms.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from csghub.core.names import RepoType
from csghub.http.deps import get_hub
from csghub.http.repos import RepoContext, open_repo, page_repo_id
from csghub.services.permissions import Action
from csghub.web.render import page_actor


async def open_page_repo(
    request: Request, repo_type: RepoType, ns: str, name: str, action: Action = Action.READ
) -> RepoContext:
    actor = await page_actor(request)
    repo_id = page_repo_id(ns, name)
    return await run_in_threadpool(
        open_repo, get_hub(request), actor, repo_type, repo_id.namespace, repo_id.name, action
    )


def page_repo(repo_type: RepoType, action: Action = Action.READ) -> Callable[..., Awaitable[RepoContext]]:
    """A dependency for the pages under `.../{ns}/{name}` of one repository type that need `action`."""

    async def dependency(request: Request, ns: str, name: str) -> RepoContext:
        return await open_page_repo(request, repo_type, ns, name, action)

    return dependency
