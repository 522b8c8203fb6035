"""The repository a route names, loaded and authorized once before the handler runs.

Like Gitea's repoAssignment: a route declares the action it needs, and its dependency parses the
`{type_plural}/{namespace}/{name}` (and `{revision}`) segments, validates them (core/names.py), loads
the repository and authorizes the actor for that action, all before any body is read. The handler
receives a `RepoContext` and calls services with it; a repository the actor may not see is a 404
(or 401 for anonymous callers) whatever the route would have done next.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import InvalidArgument, NotFound
from csghub.core.names import RepoId, RepoType
from csghub.http.deps import get_actor, get_hub
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor
from csghub.services.repositories import files, repos

# Clients quote a revision with '/' as one segment; the API's middleware masks that slash as U+001F
# (api/paths.py), a character no ref name may hold, so it is restored here.
SLASH_MASK = "\x1f"


@dataclass(frozen=True, slots=True)
class RepoContext:
    """What a repository route works on: the hub, who asks, and the repository they may act on."""

    hub: Hub
    actor: Actor
    repo: repos.RepoView


@dataclass(frozen=True, slots=True)
class RevisionContext(RepoContext):
    """A repository route that also names a revision: `snapshot` is the repository at that commit."""

    revision: str
    snapshot: files.Snapshot


def page_repo_id(namespace: str, name: str) -> RepoId:
    """A portal URL naming a repository that cannot exist is a page that does not exist (404)."""
    try:
        return RepoId.of(namespace, name)
    except InvalidArgument:
        raise NotFound("Page not found") from None


def open_repo(hub: Hub, actor: Actor, repo_type: RepoType, namespace: str, name: str, action: Action) -> RepoContext:
    """The repository named by a route's segments, if `actor` may do `action` on it."""
    repo = repos.get_repo(hub, actor, repo_type, RepoId.of(namespace, name), action)
    return RepoContext(hub, actor, repo)


def repo_route(action: Action = Action.READ) -> Callable[..., Awaitable[RepoContext]]:
    """A dependency for routes under `/{type_plural}/{namespace}/{name}` that need `action`."""

    async def dependency(
        request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
    ) -> RepoContext:
        repo_type = RepoType.parse(type_plural)
        return await run_in_threadpool(open_repo, get_hub(request), actor, repo_type, namespace, name, action)

    return dependency


def revision_route(action: Action = Action.READ) -> Callable[..., Awaitable[RevisionContext]]:
    """A dependency for routes under `/{type_plural}/{namespace}/{name}/.../{revision}`: the repository
    at that revision (a branch, tag or commit id; a missing one is RevisionNotFound)."""

    async def dependency(
        request: Request,
        type_plural: str,
        namespace: str,
        name: str,
        revision: str,
        actor: Actor = Depends(get_actor),
    ) -> RevisionContext:
        repo_type = RepoType.parse(type_plural)
        wanted = revision.replace(SLASH_MASK, "/")

        def work() -> RevisionContext:
            opened = open_repo(get_hub(request), actor, repo_type, namespace, name, action)
            snapshot = files.at_revision(opened.hub, actor, opened.repo, wanted)
            return RevisionContext(opened.hub, actor, opened.repo, wanted, snapshot)

        return await run_in_threadpool(work)

    return dependency
