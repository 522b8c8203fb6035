"""The pull-through cache: a repository or LFS object this hub lacks is brought from the upstream source
(a mirror source marked `upstream_proxy`) on first request, then served from here, also while the
upstream is unreachable.

Owns the hooks repositories call through `hub.missing` (services/context.MissingContent):
- `materialize`: a read of a missing repository whose name the source's rules let through makes it
  here, once however many ask (a lock per name; another process racing is stopped by the database's
  unique name and its copy dropped), as a mirror of mode "cache" ("sync" for names an "allow" rule
  names) owned by a namespace named as the upstream's (an organization without members, so sign-up
  cannot claim it), with the upstream's git history and no LFS objects yet. Public here only if the
  upstream answered anonymously; what only the source's token could read is "internal"
  (services/mirrors/proxy_repos.py makes and refreshes them).
- `provide_object` / `read_object`: objects come as they are asked for (services/mirrors/arrivals.py),
  streamed to every client that asks while they arrive: `/resolve/`, and git-lfs's download links too
  (the batch request answers once the first bytes came, not once the whole object did).
- `seen`: a cache-mode repository read more than `proxy_refresh_seconds` after its last fetch is
  fetched again in the background; requests never wait for it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from csghub.core.errors import HubError, InvalidArgument, TooLarge
from csghub.core.names import RepoId, RepoType
from csghub.db.models import Mirror, MirrorCacheObject, MirrorSource, utcnow
from csghub.git.lfs import LfsPointer
from csghub.services.context import Hub, TtlCache
from csghub.services.mirrors import cache_policy, eviction, proxy_repos, proxy_upstream
from csghub.services.mirrors.arrivals import Arrivals, FetchFailed
from csghub.services.mirrors.proxy_repos import CachedRepo, ProxySource
from csghub.services.mirrors.upstream import UpstreamCorrupt
from csghub.services.repositories import lfs

log = logging.getLogger(__name__)
# How long a download (or an LFS batch request, whose link then streams the object) waits for the
# upstream's first bytes before its answer starts.
FIRST_BYTES_WAIT_S = 30.0
# How often a repository whose refresh failed (the upstream down) is tried again.
RETRY_REFRESH_S = 60.0
# last_used_at is written at most this often per object.
TOUCH_EVERY_S = 60.0
# How long a name the upstream did not have answers 404 here without asking it again.
ABSENT_S = 10.0


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
            if proxy_repos.find(hub, repo_type, repo_id) is not None:
                return True
            if self._absent.get(repr(key)):
                return False
            try:
                made = proxy_repos.make_repo(hub, source, repo_type, repo_id, action)
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
        cached = proxy_repos.cached_repo(hub, repo_id)
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
            proxy_repos.fetch_into(hub, cached)
        except Exception as exc:  # a thread boundary: the next read after RETRY_REFRESH_S tries again
            log.warning("refreshing cached repository %s from its upstream failed: %s", cached.repo_id, exc)
            with hub.db() as session:
                session.execute(
                    update(Mirror).where(Mirror.repo_id == cached.repo_id).values(last_error=str(exc)[:2000])
                )

    # --- objects -----------------------------------------------------------------------------------

    def provide_object(self, hub: Hub, repo_id: int, oid: str, size: int, *, from_batch: bool) -> bool:
        cached = proxy_repos.cached_repo(hub, repo_id)
        if cached is None:
            return False
        source = self._source(hub, cached.source_id)
        if from_batch and not _names(hub, repo_id, oid, size):
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
        # An upstream that fails before sending anything gets the client a clear error, not a broken body.
        failed = arrival.started(FIRST_BYTES_WAIT_S)
        if failed is not None:
            raise failed
        return True

    def arriving(self, oid: str) -> int | None:
        arrival = self.arrivals.get(oid)
        return None if arrival is None else arrival.size

    def read_object(self, hub: Hub, oid: str, start: int, end: int | None) -> Iterator[bytes] | None:
        arrival = self.arrivals.get(oid)
        if arrival is None:
            if self._upstream(hub) is not None:  # hubs without a pull-through cache write nothing here
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

    def _upstream(self, hub: Hub) -> ProxySource | None:
        """The upstream source (the first marked so), read at most every few seconds."""
        found: list[ProxySource] = self._sources.load("upstream", lambda: proxy_repos.upstream_sources(hub))
        return found[0] if found else None

    def _source(self, hub: Hub, source_id: int) -> ProxySource:
        with hub.db() as session:
            row = session.get(MirrorSource, source_id)
            if row is None:
                raise FetchFailed(f"Mirror source #{source_id} no longer exists")
            return proxy_repos.upstream_of(row)


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
    with contextlib.suppress(IntegrityError):  # a request for the same object linked it a moment earlier
        lfs.link_objects(hub, cached.repo_id, [LfsPointer(oid, size)])
    with hub.db() as session:
        row = session.get(MirrorCacheObject, oid)
        if row is not None:
            row.last_used_at = utcnow()
        elif fetched:
            session.add(MirrorCacheObject(oid=oid, source_id=cached.source_id, size=size))
