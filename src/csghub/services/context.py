"""The services' dependencies, built once in app.py (or by a CLI command) and passed explicitly."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx
from sqlalchemy.orm import Session, sessionmaker

from csghub.config import Settings
from csghub.core.errors import RateLimited
from csghub.core.names import RepoId, RepoType
from csghub.git.repository import GitRepo
from csghub.runtime.base import Runner, RunnerError
from csghub.services.observability.metrics import Metrics
from csghub.services.read_cache import OneLoadPerKey, ReadCache, RefCache
from csghub.storage.base import BlobStore

if TYPE_CHECKING:  # the sign-in libraries load only on hubs that use them
    from csghub.services.identity.ldap_login import LdapConfig
    from csghub.services.identity.oidc_login import OidcConfig, OidcProviderCache

log = logging.getLogger(__name__)
T = TypeVar("T")


class TtlCache:
    """A small thread-safe mapping whose entries expire after `ttl` seconds."""

    def __init__(self, *, ttl: float, size: int) -> None:
        self.ttl = ttl
        self.size = size
        self.generation = 0
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, Any]] = {}
        self._loads = OneLoadPerKey()

    def get(self, key: str) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                return None
            return item[1]

    def put(self, key: str, value: Any, generation: int | None = None) -> None:
        """Keep `value`; with `generation`, only if nothing was cleared since it was read."""
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[key] = (time.monotonic() + self.ttl, value)

    def load(self, key: str, loader: Callable[[], T]) -> T:
        """The value kept for `key`, else `loader()`'s, kept; one loader at a time per key, and what a
        loader read before a `clear` (a revoked token, a removed member) is not kept."""

        def load_and_keep() -> T:
            generation = self.generation
            value = loader()
            self.put(key, value, generation)
            return value

        found: T = self._loads.load(key, lambda: self.get(key), load_and_keep)
        return found

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._items.clear()


class DownloadCounter:
    """Downloads seen since the last flush, once per repository, address and hour (services/downloads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, date], int] = {}
        self._seen: set[tuple[int, str]] = set()
        self._hour = -1

    def hit(self, repo_id: int, address: str) -> None:
        hour = int(time.time() // 3600)
        if hour == self._hour and (repo_id, address) in self._seen:  # the common case, read without the lock
            return
        with self._lock:
            if hour != self._hour:
                self._seen.clear()
                self._hour = hour
            if (repo_id, address) in self._seen:
                return
            self._seen.add((repo_id, address))
            key = (repo_id, datetime.fromtimestamp(hour * 3600, UTC).date())
            self._pending[key] = self._pending.get(key, 0) + 1

    def take(self) -> dict[tuple[int, date], int]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending


class Slots:
    """At most `limit` holders at once (the limit is read at each use: it is a setting); a caller waits up to
    `wait` seconds for a slot, then is told to come back (429)."""

    def __init__(self) -> None:
        self._free = threading.Condition()
        self._held = 0

    @contextmanager
    def hold(self, limit: int, wait: float, what: str) -> Iterator[None]:
        with self._free:
            if not self._free.wait_for(lambda: self._held < limit, timeout=wait):
                raise RateLimited(f"{what} is busy with other queries; retry in a moment", retry_after=5)
            self._held += 1
        try:
            yield
        finally:
            with self._free:
                self._held -= 1
                self._free.notify()


class CommitCache:
    """Values derived from one commit (its file list, a folder's listing, its diff), the least recently
    used dropped first. A commit id never changes meaning, so an entry never goes stale."""

    def __init__(self, *, size: int) -> None:
        self._cached = functools.lru_cache(maxsize=size)(self._make)

    @staticmethod
    def _make(make: Callable[..., Any], *key: Hashable) -> Any:
        return make(*key)

    def get(self, make: Callable[..., T], *key: Hashable) -> T:
        """make(*key), computed once while it stays among the recently used; `make` is part of the key."""
        value: T = self._cached(make, *key)
        return value


class Maintenance:
    """At most one maintenance run per repository at a time; writes during a run schedule one more."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._state: dict[str, bool] = {}  # repo path -> another run requested

    def request(self, git: GitRepo) -> None:
        key = str(git.path)
        with self._guard:
            if key in self._state:
                self._state[key] = True
                return
            self._state[key] = False
        threading.Thread(target=self._run, args=(git, key), name="git-maintenance", daemon=True).start()

    def _run(self, git: GitRepo, key: str) -> None:
        while True:
            try:
                git.maintain()
            except Exception:  # a background process boundary: log, never crash the server
                log.exception("repository maintenance failed for %s", git.path)
            with self._guard:
                if not self._state.get(key):
                    del self._state[key]
                    return
                self._state[key] = False


class WorkQueue:
    """Work done off the request path in one thread of its own (started when work arrives, gone when the
    queue is empty), in arrival order; a key queued or running is not queued again."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._items: deque[tuple[str, Callable[[], None]]] = deque()
        self._keys: set[str] = set()
        self._thread: threading.Thread | None = None

    def submit(self, key: str, work: Callable[[], None]) -> None:
        with self._lock:
            if key in self._keys:
                return
            self._keys.add(key)
            self._items.append((key, work))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def queued(self, key: str) -> bool:
        with self._lock:
            return key in self._keys

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._items:
                    self._thread = None
                    return
                key, work = self._items.popleft()
            try:
                work()
            except Exception:  # a background process boundary: log, never lose the thread
                log.exception("%s: work %s failed", self.name, key)
            finally:
                with self._lock:
                    self._keys.discard(key)


class HookChannel:
    """Where git's pre-receive hooks reach this server (transport/git_hooks.py), and the checks that
    the pushes under way expect, each under a one-time secret (services/repositories/git_sessions.py)."""

    def __init__(self) -> None:
        self.address = ""  # set once the server listens
        self._lock = threading.Lock()
        self._checks: dict[str, Callable[[str, dict[str, str]], None]] = {}

    def expect(self, token: str, check: Callable[[str, dict[str, str]], None]) -> None:
        with self._lock:
            self._checks[token] = check

    def take(self, token: str) -> Callable[[str, dict[str, str]], None] | None:
        with self._lock:
            return self._checks.pop(token, None)

    def forget(self, token: str) -> None:
        self.take(token)


class Doorbell:
    """Wakes a background loop before its next pass is due: rung from any thread (a request's), heard by
    the loop on the event loop that runs it. A ring while the loop is busy is kept for its next wait."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def ring(self) -> None:
        with self._lock:
            loop, event = self._loop, self._event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody to wake
                loop.call_soon_threadsafe(event.set)

    async def wait(self, timeout: float) -> None:
        """Until rung or `timeout` seconds pass."""
        with self._lock:
            if self._event is None or self._loop is not asyncio.get_running_loop():
                self._loop, self._event = asyncio.get_running_loop(), asyncio.Event()
            event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        event.clear()


class ComputeRuntime:
    """What compute (services/compute) keeps between requests: a runner per cluster, made on first use
    by `make_runner(kind, address)` (set by wiring); the supervisor task; the hub's own URL, which
    replicas download weights from; replica URLs the gateway saw fail; recent latencies per instance;
    one lock per instance, so that the supervisor and a stop or delete never act on it at once."""

    def __init__(self) -> None:
        self.make_runner: Callable[[str, str], Runner] | None = None
        # Keys of processes that other domains run on these runners (the dataset viewer's conversions):
        # the supervisor's sweep leaves them alone.
        self.claimants: list[Callable[[], set[str]]] = []
        self.runners: dict[int, Runner] = {}
        self.supervisor: asyncio.Task[None] | None = None
        self.hub_url = ""
        self.suspects: set[str] = set()
        self.latencies: dict[int, deque[float]] = {}
        # Failed health checks in a row per replica URL; the gateway's routes, kept a second.
        self.misses: dict[str, int] = {}
        self.routes = TtlCache(ttl=1.0, size=1024)
        # Autoscaling (services/compute/scaling.py): the gateway's requests in flight per instance
        # (ticket -> when it began), when each instance's load last turned high or quiet, and how many
        # replicas each should run now.
        self.in_flight: dict[int, dict[int, float]] = {}
        self.tickets = itertools.count(1)
        self.scale_marks: dict[int, tuple[float | None, float | None]] = {}
        self.sizes: dict[int, int] = {}
        # When the supervisor's sweep last looked for unused requirements layers (time.monotonic()).
        self.layers_swept_at = 0.0
        # One pull-through cache eviction at a time in this process (services/mirrors/eviction.py).
        self.eviction_lock = threading.Lock()
        # Each settled instance's last read of its record (services/compute/reconcile.py's Plan).
        self.plans: dict[int, Any] = {}
        # Requests served per instance since the last flush (services/compute/idle.py: when it last served
        # one, for sleeping after idle time), and when that flush was (time.monotonic()).
        self.activity: dict[int, float] = {}
        self.activity_flushed = 0.0
        # An instance's own environment layered on its framework's (a space's requirements.txt), built in
        # a thread (services/compute/layers.py): environment key -> the build's outcome, "" while running.
        self.layer_builds: dict[str, str] = {}
        # What a kind's replicas get in their environment besides what launch.py gives every replica
        # (a space's secrets, variables and token; services/spaces sets it): (hub, instance id) -> env.
        self.launch_env: dict[str, Callable[[Any, int], dict[str, str]]] = {}
        self.guard = threading.Lock()
        self._locks: dict[int, threading.Lock] = {}
        # One pooled client for every health check: a new httpx client per check cost 49 ms of CPU
        # (it builds a TLS context), a fifth of the hub's CPU with two replicas.
        self._health: httpx.Client | None = None

    def runner(self, cluster_id: int, kind: str, address: str) -> Runner:
        """The cluster's runner, made on first use (a Ray cluster's connection is opened only when needed)."""
        with self.guard:
            runner = self.runners.get(cluster_id)
        if runner is not None:
            return runner
        if self.make_runner is None:
            raise RunnerError("This hub runs no compute work (no runner factory was set up)")
        made = self.make_runner(kind, address)
        with self.guard:
            runner = self.runners.setdefault(cluster_id, made)
        if runner is not made:
            made.close()
        return runner

    def local_runner(self) -> Runner:
        """This machine's runner (cluster 1, which migration 0010 seeds and nothing removes): where the
        hub's own batch work runs (dataset conversions, mirror syncs), whatever clusters are configured."""
        return self.runner(1, "local", "")

    def claimed_keys(self) -> set[str]:
        keys: set[str] = set()
        for claimant in self.claimants:
            keys |= claimant()
        return keys

    @property
    def health_client(self) -> httpx.Client:
        with self.guard:
            if self._health is None:
                self._health = httpx.Client(trust_env=False)
            return self._health

    def close(self) -> None:
        with self.guard:
            if self._health is not None:
                self._health.close()
                self._health = None

    def lock(self, instance_id: int) -> threading.Lock:
        with self.guard:
            return self._locks.setdefault(instance_id, threading.Lock())


class MissingContent(Protocol):
    """What answers for a repository or an LFS object this hub lacks: the pull-through cache
    (services/mirrors/proxy.py), set by wiring so that repositories need not know the mirrors."""

    def materialize(self, hub: Hub, repo_type: RepoType, repo_id: RepoId) -> bool:
        """Make the missing repository here (from an upstream); True if it now exists."""

    def provide_object(self, hub: Hub, repo_id: int, oid: str, size: int, *, from_batch: bool) -> bool:
        """Bring an object the repository lacks (started now: read_object streams it as it arrives); True if
        it comes, False if nothing here can bring it. `from_batch`: the client named the object itself (an
        LFS batch request), so it comes only if the repository's commits name it."""

    def arriving(self, oid: str) -> int | None:
        """The size of the object if it is being fetched now (storage has no copy to hand out yet)."""

    def read_object(self, hub: Hub, oid: str, start: int, end: int | None) -> Iterator[bytes] | None:
        """The bytes of an object still arriving, as they arrive; None when none is arriving."""

    def seen(self, hub: Hub, repo_id: int) -> None:
        """A repository's row was read from the database (at most every few seconds per repository)."""


@dataclass(frozen=True, slots=True)
class RepoEvent:
    """Something that happened to a repository, as webhooks name it: `scope` "repo" (created, moved,
    deleted), "repo.content" (refs moved), "repo.config" (settings), "discussion" or "discussion.comment";
    `action` "create", "update", "move" or "delete"; `detail` what the scope needs (the refs that moved,
    the discussion's number, the comment's id, the new settings)."""

    repo_id: int
    scope: str
    action: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PersonEvent:
    """Something addressed to people rather than to a repository's watchers: "access_request" (a user,
    `actor_id`, asked for a gated repository `repo_id`'s files) or "invitation" (`actor_id` invited
    `user_id` into organization `org_id`). Notifications listen (services/community/notify.py)."""

    kind: str
    actor_id: int | None
    repo_id: int | None = None
    org_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class Hub:
    settings: Settings
    sessions: sessionmaker[Session]
    blobs: BlobStore
    # Recently seen credentials -> actor, so hot read paths skip two queries per request.
    actors: TtlCache = field(default_factory=lambda: TtlCache(ttl=10.0, size=4096))
    # Downloads counted since the last flush (see services/repositories/downloads.py).
    downloads: DownloadCounter = field(default_factory=DownloadCounter)
    # File lists and folder listings per commit (services/repositories/files.py), and commits' diffs.
    listings: CommitCache = field(default_factory=lambda: CommitCache(size=512))
    diffs: CommitCache = field(default_factory=lambda: CommitCache(size=64))
    # Packing loose objects after writes, off the request path (services/repositories/commits.py).
    maintenance: Maintenance = field(default_factory=Maintenance)
    # git's protocol v2 capability advertisements, by protocol and repository config (git_sessions).
    advertisements: TtlCache = field(default_factory=lambda: TtlCache(ttl=3600.0, size=64))
    # The pushes under way whose pre-receive hook may ask this server for its check.
    hook_channel: HookChannel = field(default_factory=HookChannel)
    # Work that outlives its request (a push whose client went away), kept alive until it ends.
    detached: set[asyncio.Task[None]] = field(default_factory=set)
    # Repository rows and answers encoded from them, dropped on every committed write (read_cache.py).
    reads: ReadCache = field(default_factory=lambda: ReadCache(ttl=5.0, size=4096, max_bytes=64 * 1024 * 1024))
    # Branch and tag -> commit, checked against the ref files' stamps (read_cache.RefCache).
    refs: RefCache = field(default_factory=lambda: RefCache(size=4096))
    # A commit's entry for a path, and small files' bytes by blob id (services/repositories/files.py).
    entries: CommitCache = field(default_factory=lambda: CommitCache(size=2048))
    small_blobs: CommitCache = field(default_factory=lambda: CommitCache(size=256))
    # A safetensors file's header summary (parameters, dtypes) by its object id, which names the same bytes
    # for good (services/repositories/tensors.py); the time-to-live only bounds memory.
    tensor_headers: TtlCache = field(default_factory=lambda: TtlCache(ttl=86400.0, size=4096))
    # Dataset viewer: each split's reader (its shards' footers), per conversion.
    dataset_readers: CommitCache = field(default_factory=lambda: CommitCache(size=64))
    # Rendered markdown files (cards, .md files in the tree) by repository, commit and path (documents.py).
    rendered: CommitCache = field(default_factory=lambda: CommitCache(size=64))
    # Dataset viewer: DuckDB queries running at once (each may use its memory limit), across requests.
    dataset_queries: Slots = field(default_factory=Slots)
    # Enterprise sign-in, when configured (built in wiring; None when off).
    ldap: LdapConfig | None = None
    oidc: OidcConfig | None = None
    oidc_cache: OidcProviderCache | None = None
    # Runners, the supervisor and what they share (services/compute).
    compute: ComputeRuntime = field(default_factory=ComputeRuntime)
    # Called after every ref update with the refs that moved (writes.after_ref_update), e.g. to queue the
    # dataset viewer's conversion; set by wiring, so that repositories need not know who listens.
    ref_listeners: list[Callable[[Hub, int, list[str]], None]] = field(default_factory=list)
    # Called before a write's refs move (a push's pre-receive check, a commit), with the repository's id,
    # the new tips, the current ones and the push's quarantine environment (None for a commit); raising
    # refuses the write. Set by wiring (upload scanning's blocking mode), as ref_listeners are.
    write_checks: list[Callable[[Hub, int, list[str], list[str], Mapping[str, str] | None], None]] = field(
        default_factory=list
    )
    # Upload scans waiting for their turn, off the request path (services/scanning).
    scans: WorkQueue = field(default_factory=lambda: WorkQueue("upload-scans"))
    # Called with a repository's id once its deletion is authorized, before its row and files go: what
    # runs from it (a space's app) stops now rather than when a supervisor notices.
    repo_delete_listeners: list[Callable[[Hub, int], None]] = field(default_factory=list)
    # Who brings repositories and objects this hub lacks (the pull-through cache); set by wiring.
    missing: list[MissingContent] = field(default_factory=list)
    # Rung when a mirror sync is queued: the mirrors' scheduler starts it now, not at its next pass.
    mirror_doorbell: Doorbell = field(default_factory=Doorbell)
    # Called inside the transaction that changes a repository (its refs, settings, name, existence,
    # discussions) with what happened, so that what listens (webhooks' queue) commits with the change or
    # not at all; set by wiring. See `announce`.
    repo_event_listeners: list[Callable[[Session, Hub, RepoEvent], None]] = field(default_factory=list)
    # Called inside the transaction of an access request or an invitation (see `tell`); set by wiring.
    person_event_listeners: list[Callable[[Session, Hub, PersonEvent], None]] = field(default_factory=list)
    # Rung when a webhook delivery is queued: the delivery loop sends it now, not at its next pass.
    webhook_doorbell: Doorbell = field(default_factory=Doorbell)
    # Each signed-in person's number of unread notifications, for the portal's header (notifications.py).
    unread_counts: TtlCache = field(default_factory=lambda: TtlCache(ttl=10.0, size=4096))
    # Prometheus metrics (services/observability): this hub's registry, counters and scrape-time collectors.
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        self.reads.watch(self.sessions)

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        with self.sessions.begin() as session:
            yield session

    def announce(self, session: Session, event: RepoEvent) -> None:
        """Tell the listeners of repository events, in the caller's transaction (before its commit)."""
        for listener in self.repo_event_listeners:
            try:
                listener(session, self, event)
            except Exception:  # the change itself stands: a listener's trouble must not undo it
                log.exception("a listener of repository %s's events failed", event.repo_id)

    def tell(self, session: Session, event: PersonEvent) -> None:
        """Tell the listeners of people's events, in the caller's transaction (before its commit)."""
        for listener in self.person_event_listeners:
            try:
                listener(session, self, event)
            except Exception:  # the request or invitation stands: a listener's trouble must not undo it
                log.exception("a listener of %s events failed", event.kind)

    def repo_path(self, repo_id: int) -> Path:
        # Sharded by id so no directory grows past a few thousand entries.
        return Path(f"{self.settings.repos_dir}/{repo_id % 1000:03d}/{repo_id}.git")  # one Path: a hot path

    def git(self, repo_id: int) -> GitRepo:
        return GitRepo(self.repo_path(repo_id))
