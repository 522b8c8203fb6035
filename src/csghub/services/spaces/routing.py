"""Where the hub's /apps/{owner}/{name}/ door sends a visitor: the space's state and healthy replica
(authorized as a read of the space repository, cached a second), the capabilities that let a private
space's sandboxed pages reach it without the visitor's cookies, and a static space's files.

A space's app is untrusted code served from the hub's origin, so its documents run sandboxed with an
opaque origin (transport/space_proxy.py) and their requests carry no cookie. For a private space the
hub checks the visitor's session once, on the navigation that opens the app, and hands out a
capability: a signed token naming (visitor, space, expiry) that rides in the app's address
(`/apps/{owner}/{name}/~{capability}/...`). It opens that space only, for that visitor while they may
still read it, and expires after CAPABILITY_TTL."""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select

from csghub.core.errors import EntryNotFound, InvalidArgument, NotFound, Unauthenticated
from csghub.core.names import RepoId, RepoType
from csghub.core.signing import make_token, read_token
from csghub.db.models import ComputeReplica
from csghub.services.context import Hub
from csghub.services.identity import accounts
from csghub.services.permissions import Actor
from csghub.services.repositories import files, repos
from csghub.services.spaces import records

PREFIX = records.PREFIX
CAPABILITY_TTL = 3600  # seconds; the visitor's next visit (a navigation) gets a fresh one
_CAPABILITY = "space-app"

# A space's stages (records.stage_of; docs/spaces.md, "States and logs").
BUILDING, RUNNING, SLEEPING = records.BUILDING, records.RUNNING, records.SLEEPING_STAGE


@dataclass(frozen=True, slots=True)
class SpaceRoute:
    owner: str
    name: str
    repo_id: int
    private: bool
    instance_id: int
    state: str  # its stage: building | running | sleeping | paused | stopped | build-failed | runtime-error
    reason: str
    sdk: str
    static: bool
    commit: str  # what runs (a static space's files are read at it)
    url: str  # the healthy replica's base URL, "http://127.0.0.1:PORT"; "" without one
    base_url: str  # the app's base path on the hub and on its replica, "/apps/{owner}/{name}/"

    @property
    def ready(self) -> bool:
        """Requests can be answered now: a static space that is running, or a healthy replica."""
        return self.state == RUNNING and (self.static or bool(self.url))

    @property
    def can_become_ready(self) -> bool:
        """It will answer by itself soon (a visit wakes a sleeping one); a paused, stopped or failed
        space waits for its owners."""
        return self.state in (BUILDING, RUNNING, SLEEPING)


def space_route(hub: Hub, actor: Actor, owner: str, name: str) -> SpaceRoute:
    """The space `actor` may read and how to reach its app; NotFound for a missing or hidden space (the
    same answer) and for a space repository without an app."""
    return _space_route(hub, actor, owner, name, cached=False)


def cached_space_route(hub: Hub, actor: Actor, owner: str, name: str) -> SpaceRoute | None:
    """space_route from what the hub read in the last second, without the database (the door asks on
    the event loop first); None when something is not at hand."""
    try:
        return _space_route(hub, actor, owner, name, cached=True)
    except _NotAtHand:
        return None


class _NotAtHand(Exception):
    pass


def _space_route(hub: Hub, actor: Actor, owner: str, name: str, *, cached: bool) -> SpaceRoute:
    repo_id = _repo_id(owner, name)
    try:
        repo = repos.cached_repo(hub, actor, RepoType.SPACE, repo_id)
        if repo is None:
            if cached:
                raise _NotAtHand
            repo = repos.get_repo(hub, actor, RepoType.SPACE, repo_id)
    except (Unauthenticated, NotFound):  # anonymous visitors too: hidden is missing, not "sign in"
        raise NotFound(f"Space not found: {owner}/{name}", code="RepoNotFound") from None
    key = f"space\x00{repo.id}"
    found: SpaceRoute | None = hub.compute.routes.get(key)
    if found is None:
        if cached:
            raise _NotAtHand
        found = _load(hub, repo.id, repo.resource.private, owner, name)
        hub.compute.routes.put(key, found)
    if not found.instance_id:
        raise NotFound(f"Space {owner}/{name} has no app", code="SpaceNoApp")
    return found


def _repo_id(owner: str, name: str) -> RepoId:
    try:
        return RepoId.of(owner, name)
    except InvalidArgument:
        raise NotFound(f"Space not found: {owner}/{name}", code="RepoNotFound") from None


def _load(hub: Hub, repo_id: int, private: bool, owner: str, name: str) -> SpaceRoute:
    with hub.db() as session:
        row = records.find_instance(session, repo_id)
        if row is None:
            return SpaceRoute(
                owner, name, repo_id, private, 0, "", "", "", False, "", "", records.app_path(owner, name)
            )
        url = session.scalar(
            select(ComputeReplica.url)
            .where(ComputeReplica.instance_id == row.id, ComputeReplica.state == "healthy")
            .order_by(ComputeReplica.generation.desc())
        )
        spec = records.spec_of(row)
        sdk = str(spec.get("sdk", ""))
        return SpaceRoute(
            owner=row.namespace.name,
            name=row.name,
            repo_id=repo_id,
            private=private,
            instance_id=row.id,
            state=records.stage_of(row, spec)[0],
            reason=row.reason,
            sdk=sdk,
            static=bool(spec.get("static", sdk == "static")),
            commit=row.commit,
            url=(url or "") if row.desired == "running" else "",
            base_url=str(spec.get("base_url") or records.app_path(row.namespace.name, row.name)),
        )


def issue_capability(hub: Hub, actor: Actor, route: SpaceRoute, *, now: float | None = None) -> str:
    """A capability for `actor` (who may read the space: space_route said so) to use its app."""
    expires_at = int((time.time() if now is None else now) + CAPABILITY_TTL)
    claims: dict[str, object] = {"kind": _CAPABILITY, "user": actor.user_id, "repo": route.repo_id}
    return make_token(hub.settings.secret_key, claims, expires_at=expires_at)


def capability_route(hub: Hub, capability: str, owner: str, name: str) -> tuple[SpaceRoute, Actor]:
    """The space and its visitor, when `capability` is a live one for it and they may still read it; NotFound
    otherwise (as for a space that does not exist: a capability reveals nothing either)."""
    return _capability_route(hub, capability, owner, name, cached=False)


def cached_capability_route(hub: Hub, capability: str, owner: str, name: str) -> tuple[SpaceRoute, Actor] | None:
    """capability_route without the database, as cached_space_route."""
    try:
        return _capability_route(hub, capability, owner, name, cached=True)
    except _NotAtHand:
        return None


def _capability_route(hub: Hub, capability: str, owner: str, name: str, *, cached: bool) -> tuple[SpaceRoute, Actor]:
    claims = read_token(hub.settings.secret_key, capability)
    user = claims.get("user") if claims is not None else None
    if claims is None or claims.get("kind") != _CAPABILITY or not isinstance(user, int):
        raise NotFound(f"Space not found: {owner}/{name}", code="RepoNotFound")
    key = f"space-visitor\x00{user}"
    actor: Actor | None = hub.actors.get(key)
    if actor is None:
        if cached:
            raise _NotAtHand
        try:
            actor = accounts.actor_from_user_id(hub, user, scope="read")
        except Unauthenticated:  # the account is gone or disabled
            raise NotFound(f"Space not found: {owner}/{name}", code="RepoNotFound") from None
        hub.actors.put(key, actor)
    route = _space_route(hub, actor, owner, name, cached=cached)
    if claims.get("repo") != route.repo_id:
        raise NotFound(f"Space not found: {owner}/{name}", code="RepoNotFound")
    return route, actor


@dataclass(frozen=True, slots=True)
class StaticFile:
    path: str
    size: int
    etag: str  # the git blob id (or the LFS object's sha256)
    content_type: str
    chunks: Iterator[bytes]


def static_file(hub: Hub, route: SpaceRoute, path: str) -> StaticFile:
    """A static space's file at its running commit; a folder means its index.html. EntryNotFound when
    there is none; `path` ending in a folder's name without its slash is EntryNotFound too (the caller
    asks `static_folder` to redirect)."""
    repo = repos.get_repo_by_id(hub, route.repo_id)
    snapshot = files.at_revision(hub, Actor(user_id=0, is_admin=True), repo, route.commit)
    wanted = f"{path}index.html" if path == "" or path.endswith("/") else path
    content = files.file_content(snapshot, wanted)
    kind = mimetypes.guess_type(wanted, strict=False)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "application/json", "image/svg+xml"):
        kind += "; charset=utf-8"
    return StaticFile(wanted, content.size, content.etag, kind, files.read_file(hub, snapshot, content))


def static_folder(hub: Hub, route: SpaceRoute, path: str) -> bool:
    """Whether `path` (no trailing slash) names a folder with an index.html."""
    if not path or path.endswith("/"):
        return False
    repo = repos.get_repo_by_id(hub, route.repo_id)
    snapshot = files.at_revision(hub, Actor(user_id=0, is_admin=True), repo, route.commit)
    try:
        files.get_entry(snapshot, f"{path}/index.html")
    except (EntryNotFound, InvalidArgument):
        return False
    return True
