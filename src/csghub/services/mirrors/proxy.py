"""The pull-through cache: a repository or LFS object this hub lacks is brought from the upstream source
(a mirror source marked `upstream_proxy`) on first request, then served from here, also while the
upstream is unreachable.

Owns the hooks repositories call through `hub.missing` (services/context.MissingContent):
- `materialize`: a read of a missing repository whose name the source's rules let through makes it
  here, once however many ask (a lock per name; another process racing is stopped by the database's
  unique name and its copy dropped), as a mirror of mode "cache" ("sync" for names an "allow" rule
  names) owned by a namespace named as the upstream's (an organization without members, so sign-up
  cannot claim it), with the upstream's git history and no LFS objects yet. Public here only if the
  upstream answered anonymously; what only the source's token could read is "internal".
- `provide_object` / `read_object`: objects come as they are asked for (services/mirrors/arrivals.py).
- `seen`: a cache-mode repository read more than `proxy_refresh_seconds` after its last fetch is
  fetched again in the background; requests never wait for it.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from csghub.core.errors import HubError, InvalidArgument, NotFound, TooLarge
from csghub.core.names import RepoId, RepoType, validate_namespace
from csghub.db.models import Mirror, MirrorCacheObject, MirrorSource, Namespace, OrgMember, Repo, utcnow
from csghub.git import remote
from csghub.git.lfs import LfsPointer
from csghub.git.repository import GitRepo
from csghub.services.context import Hub, TtlCache
from csghub.services.mirrors import cache_policy, eviction, proxy_upstream
from csghub.services.mirrors.arrivals import Arrivals, FetchFailed
from csghub.services.mirrors.upstream import UpstreamCorrupt
from csghub.services.repositories import lfs, writes

log = logging.getLogger(__name__)
# A batch request (git lfs pull) waits this long for an object to arrive before it answers.
BATCH_WAIT_S = 600.0
# How long a download waits for the upstream's first bytes before its answer starts.
FIRST_BYTES_WAIT_S = 30.0
# How often a repository whose refresh failed (the upstream down) is tried again.
RETRY_REFRESH_S = 60.0
# last_used_at is written at most this often per object.
TOUCH_EVERY_S = 60.0
ALLOW_INTERVAL_S = 86400  # a scheduled mirror's interval, for names an "allow" rule names
VIA_PROXY = "mirror"
# How long a name the upstream did not have answers 404 here without asking it again.
ABSENT_S = 10.0


@dataclass(frozen=True, slots=True)
class Upstream:
    """The source the cache brings repositories from, as read for one decision."""

    id: int
    name: str
    rules: list[dict[str, str]]
    object_max_bytes: int


@dataclass(frozen=True, slots=True)
class CachedRepo:
    repo_id: int
    source_id: int
    upstream_type: RepoType
    upstream_id: str
    mode: str
    last_synced_at: datetime | None


class PullThrough:
    """The hub's one pull-through cache (hub.missing holds it; wiring puts it there)."""

    def __init__(self) -> None:
        self.arrivals = Arrivals()
        self._guard = threading.Lock()
        self._making: dict[tuple[str, str], threading.Lock] = {}
        self._refreshing: dict[int, float] = {}
        self._touched: dict[str, float] = {}
        self._sources = TtlCache(ttl=5.0, size=4)
        self._absent = TtlCache(ttl=ABSENT_S, size=4096)

    # --- repositories ------------------------------------------------------------------------------

    def materialize(self, hub: Hub, repo_type: RepoType, repo_id: RepoId) -> bool:
        source = self._upstream(hub)
        if source is None:
            return False
        action = cache_policy.decide(source.rules, repo_type, str(repo_id))
        if action == "deny":
            return False
        key = (repo_type.value, str(repo_id).lower())
        if self._absent.get(repr(key)):
            return False
        with self._guard:
            lock = self._making.setdefault(key, threading.Lock())
        with lock:  # the others wait for the first, then find what it made
            if _find(hub, repo_type, repo_id) is not None:
                return True
            if self._absent.get(repr(key)):
                return False
            try:
                made = make_repo(hub, source, repo_type, repo_id, action)
            except HubError as exc:  # the upstream lacks it, refuses it, or is down: a missing repo here
                log.info("pull-through of %s %s from %s: %s", repo_type.value, repo_id, source.name, exc.message)
                made = False
            finally:
                with self._guard:
                    self._making.pop(key, None)
            if not made:  # asked again at once (a typo retried, a client's probes): not asked of the upstream
                self._absent.put(repr(key), True)
            return made

    def seen(self, hub: Hub, repo_id: int) -> None:
        if self._upstream(hub) is None:
            return
        cached = cached_repo(hub, repo_id)
        if cached is None or cached.mode != "cache":
            return
        last = cached.last_synced_at
        every = hub.settings.proxy_refresh_seconds
        due = last is None or utcnow() - last > timedelta(seconds=every)
        now = time.monotonic()
        # One attempt at a time per repository, and after a failure (the upstream down) not at every read.
        pause = min(RETRY_REFRESH_S, every)
        with self._guard:
            if not due or now - self._refreshing.get(repo_id, -pause) < pause:
                return
            self._refreshing[repo_id] = now
        threading.Thread(target=self._refresh, args=(hub, cached), name="proxy-refresh", daemon=True).start()

    def _refresh(self, hub: Hub, cached: CachedRepo) -> None:
        try:
            fetch_into(hub, cached)
        except Exception as exc:  # a thread boundary: the next read after RETRY_REFRESH_S tries again
            log.warning("refreshing cached repository %s from its upstream failed: %s", cached.repo_id, exc)
            with hub.db() as session:
                session.execute(
                    update(Mirror).where(Mirror.repo_id == cached.repo_id).values(last_error=str(exc)[:2000])
                )

    # --- objects -----------------------------------------------------------------------------------

    def provide_object(self, hub: Hub, repo_id: int, oid: str, size: int, *, wait: bool) -> bool:
        cached = cached_repo(hub, repo_id)
        if cached is None:
            return False
        source = self._source(hub, cached.source_id)
        if wait and not _names(hub, repo_id, oid, size):
            return False  # a batch request may name anything: only what the repository's commits name comes
        if source.object_max_bytes and size > source.object_max_bytes:
            raise TooLarge(
                f"LFS object {oid} is {size} bytes; this hub's cache of {source.name} keeps objects of at most "
                f"{source.object_max_bytes} bytes"
            )
        if hub.blobs.stat(oid) == size:  # fetched for another repository, or pushed here: not fetched again
            _keep(hub, cached, oid, size, fetched=False)
            return True
        arrival = self.arrivals.start(
            oid,
            size,
            hub.settings.tmp_dir,
            fetch=lambda: proxy_upstream.object_bytes(
                hub, cached.source_id, cached.upstream_type, cached.upstream_id, oid, size
            ),
            store=lambda chunks: _store(hub, cached, oid, size, chunks),
        )
        if wait and not arrival.wait(BATCH_WAIT_S):
            raise arrival.error or FetchFailed(f"LFS object {oid} did not arrive from the upstream in time")
        # An upstream that fails before sending anything gets the client a clear error, not a broken body.
        failed = arrival.started(FIRST_BYTES_WAIT_S)
        if failed is not None:
            raise failed
        return True

    def arriving(self, oid: str) -> bool:
        return self.arrivals.get(oid) is not None

    def read_object(self, hub: Hub, oid: str, start: int, end: int | None) -> Iterator[bytes] | None:
        arrival = self.arrivals.get(oid)
        if arrival is None:
            self._touch(hub, oid)
            return None
        return arrival.read(start, end, lambda s, e: hub.blobs.read(oid, s, e))

    def _touch(self, hub: Hub, oid: str) -> None:
        """Mark a cached object used (eviction takes the least recently used first), once a minute."""
        now = time.monotonic()
        with self._guard:
            if now - self._touched.get(oid, -TOUCH_EVERY_S) < TOUCH_EVERY_S:
                return
            if len(self._touched) > 100_000:
                self._touched.clear()
            self._touched[oid] = now
        with hub.db() as session:
            session.execute(update(MirrorCacheObject).where(MirrorCacheObject.oid == oid).values(last_used_at=utcnow()))

    # --- sources -----------------------------------------------------------------------------------

    def _upstream(self, hub: Hub) -> Upstream | None:
        """The upstream source (the first marked so), read at most every few seconds."""
        found: list[Upstream] = self._sources.load("upstream", lambda: upstream_sources(hub))
        return found[0] if found else None

    def _source(self, hub: Hub, source_id: int) -> Upstream:
        with hub.db() as session:
            row = session.get(MirrorSource, source_id)
            if row is None:
                raise FetchFailed(f"Mirror source #{source_id} no longer exists")
            return _upstream_of(row)


def _upstream_of(row: MirrorSource) -> Upstream:
    return Upstream(row.id, row.name, cache_policy.load_rules(row.proxy_rules), row.object_max_bytes)


def upstream_sources(hub: Hub) -> list[Upstream]:
    with hub.db() as session:
        rows = session.scalars(
            select(MirrorSource).where(MirrorSource.upstream_proxy.is_(True)).order_by(MirrorSource.id)
        )
        return [_upstream_of(row) for row in rows]


def cached_repo(hub: Hub, repo_id: int) -> CachedRepo | None:
    """The repository's mirror when the pull-through cache's upstream may bring its objects."""
    with hub.db() as session:
        found = session.execute(
            select(Mirror.source_id, Mirror.upstream_type, Mirror.upstream_id, Mirror.mode, Mirror.last_synced_at)
            .join(MirrorSource, MirrorSource.id == Mirror.source_id)
            .where(Mirror.repo_id == repo_id, MirrorSource.upstream_proxy.is_(True))
        ).first()
    if found is None:
        return None
    return CachedRepo(repo_id, found[0], RepoType(found[1]), found[2], found[3], found[4])


def _find(hub: Hub, repo_type: RepoType, repo_id: RepoId) -> int | None:
    with hub.db() as session:
        return session.scalar(
            select(Repo.id)
            .join(Namespace, Repo.namespace_id == Namespace.id)
            .where(
                Repo.type == repo_type.value,
                Namespace.name_key == repo_id.namespace.lower(),
                Repo.name_key == repo_id.name.lower(),
            )
        )


def make_repo(hub: Hub, source: Upstream, repo_type: RepoType, repo_id: RepoId, action: str) -> bool:
    """The repository made here from the upstream's; False when the upstream has none to give. True also
    when another process made it first (its row's unique name stops this one, whose copy goes)."""
    with hub.db() as session:  # before any request to the upstream: a name of this hub's own stays its own
        _ours_to_fill(session, repo_id.namespace)
    visibility = proxy_upstream.visibility(hub, source.id, repo_type, str(repo_id))
    if visibility is None:
        return False
    staging = hub.settings.tmp_dir / f"proxy-repo-{secrets.token_hex(8)}.git"
    git = GitRepo.init_bare(staging)
    try:
        url, env = proxy_upstream.git_remote(hub, source.id, repo_type, str(repo_id))
        branch = remote.remote_default_branch(staging, url, env) or "main"
        remote.fetch_refs(staging, url, env)
        head = git.ref_target(f"refs/heads/{branch}") or ""
        if head:
            git.set_head(branch)
        try:
            with hub.db() as session:
                namespace = _system_namespace(session, repo_id.namespace)
                row = Repo(
                    type=repo_type.value,
                    namespace_id=namespace.id,
                    name=repo_id.name,
                    name_key=repo_id.name.lower(),
                    visibility=visibility,
                    default_branch=branch,
                    head_sha=head,
                )
                session.add(row)
                session.flush()  # another process that made it first stops us here
                sync = action == "allow"
                session.add(
                    Mirror(
                        repo_id=row.id,
                        source_id=source.id,
                        upstream_type=repo_type.value,
                        upstream_id=str(repo_id),
                        mode="sync" if sync else "cache",
                        interval_seconds=ALLOW_INTERVAL_S if sync else 0,
                        last_synced_at=utcnow(),
                        last_commit=head,
                        next_sync_at=utcnow() + timedelta(seconds=ALLOW_INTERVAL_S) if sync else None,
                    )
                )
                session.flush()
                made = row.id
                hub.repo_path(made).parent.mkdir(parents=True, exist_ok=True)
                os.rename(staging, hub.repo_path(made))  # visible with the row, whole
        except IntegrityError:
            return True
    finally:
        git.remove()  # the staging copy, if it was not moved into place
    git = hub.git(made)
    git.install_hooks()
    # Through the one after-write step, as a push would: the listeners (dataset viewer, spaces) see it.
    with writes.writing(hub, made):
        changes = writes.changes_between({}, git.all_ref_targets())
        writes.after_ref_update(hub, made, None, changes, action="mirror.sync", via=VIA_PROXY)
    log.info("pull-through: made %s %s from %s (%s)", repo_type.value, repo_id, source.name, visibility)
    return True


def _ours_to_fill(session: Session, name: str) -> Namespace | None:
    """The namespace named as the upstream's, if it exists and the cache may fill it: an organization
    without members (one the cache made). A user's or a real organization's namespace of that name is
    never filled from the upstream (its owner would own what was mirrored): NotFound."""
    validate_namespace(name)
    found = session.scalar(select(Namespace).where(Namespace.name_key == name.lower()))
    if found is not None:
        members = session.scalar(select(func.count()).select_from(OrgMember).where(OrgMember.org_id == found.id))
        if found.kind != "org" or members:
            raise NotFound(f"'{name}' is a namespace of this hub's own: nothing is brought into it")
    return found


def _system_namespace(session: Session, name: str) -> Namespace:
    """The namespace for what the cache brings from the upstream's namespace of that name, made when
    missing as an organization without members: sign-up cannot claim it, site administrators manage it."""
    found = _ours_to_fill(session, name)
    if found is not None:
        return found
    namespace = Namespace(name=name, name_key=name.lower(), kind="org", full_name=f"{name} (mirrored)")
    session.add(namespace)
    session.flush()
    return namespace


def fetch_into(hub: Hub, cached: CachedRepo) -> None:
    """Fetch the upstream's refs into the cached repository, through the one after-write step."""
    git = hub.git(cached.repo_id)
    url, env = proxy_upstream.git_remote(hub, cached.source_id, cached.upstream_type, cached.upstream_id)
    with writes.writing(hub, cached.repo_id):
        before = git.all_ref_targets()
        remote.fetch_refs(git.path, url, env)
        changes = writes.changes_between(before, git.all_ref_targets())
        writes.after_ref_update(hub, cached.repo_id, None, changes, action="mirror.sync", via=VIA_PROXY)
    with hub.db() as session:
        mirror = session.scalar(select(Mirror).where(Mirror.repo_id == cached.repo_id))
        if mirror is not None:
            mirror.last_synced_at = utcnow()
            mirror.last_error = ""
            head = session.scalar(select(Repo.head_sha).where(Repo.id == cached.repo_id))
            mirror.last_commit = head or mirror.last_commit


def _names(hub: Hub, repo_id: int, oid: str, size: int) -> bool:
    """Whether a commit of the repository names the object (what a batch request may ask to bring)."""
    git = hub.git(repo_id)
    tips = sorted(set(git.all_ref_targets().values()))
    return any(p.oid == oid and p.size == size for _path, p in git.lfs_pointers_between(tips, []))


def _store(hub: Hub, cached: CachedRepo, oid: str, size: int, chunks: Iterable[bytes]) -> None:
    """Keep the object once its bytes verify, then make room under the source's cap."""
    try:
        hub.blobs.put(oid, size, chunks)
    except InvalidArgument as exc:  # a size or hash mismatch: storage kept nothing
        reason = f"The upstream sent corrupt bytes for object {oid}: {exc.message}"
        raise UpstreamCorrupt(0, reason) from None
    _keep(hub, cached, oid, size)
    eviction.enforce(hub, cached.source_id, keep=oid)


def _keep(hub: Hub, cached: CachedRepo, oid: str, size: int, *, fetched: bool = True) -> None:
    """Link the object to the cached repository; one the cache fetched counts against the source's cap
    (bytes that were here already, pushed to a repository of this hub, are not the cache's to count)."""
    lfs.link_objects(hub, cached.repo_id, [LfsPointer(oid, size)])
    with hub.db() as session:
        row = session.get(MirrorCacheObject, oid)
        if row is not None:
            row.last_used_at = utcnow()
        elif fetched:
            session.add(MirrorCacheObject(oid=oid, source_id=cached.source_id, size=size))
