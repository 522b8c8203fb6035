"""What hot read paths would otherwise fetch on every request, kept in memory for a few seconds:
repository rows (services/repositories/repos.py) and answers encoded from them (the HF model info).

Everything is dropped when this process commits any write to the database. Repository rows change
through many services (settings, likes, download counts, pushes, renames) and through database
cascades (a deleted account takes its repositories with it) that no service names, so invalidating on
every committed write is the one rule that cannot miss a case; reads far outnumber writes. Entries
also expire after `ttl` seconds, so what another process commits (an admin command) shows soon too.

A reader takes `generation` before it reads the database and stores what it read only if no write
committed in between, so a slow reader cannot put back a row that a writer has just changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker

_WROTE = "csghub.wrote"
_KEEPS_READS = "csghub.keeps_reads"
T = TypeVar("T")


class OneLoadPerKey:
    """Lets one thread at a time load a key. Entries of a busy key expire (or are dropped by a write)
    while many requests want them; without this each of those requests would read the database at the
    same moment, and that burst, not the reads themselves, made the slowest 1% of model info and
    resolve requests 5-10 times slower (benches/bench_request_overhead.py, p99)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: dict[Hashable, tuple[threading.Lock, list[int]]] = {}

    def load(self, key: Hashable, cached: Callable[[], T | None], loader: Callable[[], T]) -> T:
        """`cached()` if it has the value, else `loader()` (which keeps what it read), called by one
        thread at a time per key: the others wait, then find what it kept. A loader that raises keeps
        nothing, so each waiter then loads for itself (failed sign-ins are each counted)."""
        found = cached()
        if found is not None:
            return found
        with self._lock:
            gate = self._gates.setdefault(key, (threading.Lock(), [0]))
            gate[1][0] += 1
        try:
            with gate[0]:
                found = cached()
                return loader() if found is None else found
        finally:
            with self._lock:
                gate[1][0] -= 1
                if gate[1][0] == 0:
                    del self._gates[key]


class ReadCache:
    def __init__(self, *, ttl: float, size: int, max_bytes: int) -> None:
        self.ttl = ttl
        self.size = size
        self.max_bytes = max_bytes
        self.generation = 0
        self._lock = threading.Lock()
        self._items: dict[Hashable, tuple[float, Any]] = {}
        self._bytes = 0
        self.loads = OneLoadPerKey()

    def get(self, key: Hashable) -> Any | None:
        item = self._items.get(key)  # a dict read is atomic; expired entries are replaced by put
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put(self, key: Hashable, value: Any, generation: int, *, size: int = 0) -> None:
        """Keep `value` unless a write committed since `generation` was read; `size`: bytes it holds."""
        with self._lock:
            if generation != self.generation:
                return
            if len(self._items) >= self.size or self._bytes + size > self.max_bytes:
                self._items.clear()
                self._bytes = 0
            self._items[key] = (time.monotonic() + self.ttl, value)
            self._bytes += size

    def invalidate(self) -> None:
        with self._lock:
            self.generation += 1
            self._items.clear()
            self._bytes = 0

    def watch(self, sessions: sessionmaker[Session]) -> None:
        """Invalidate after every commit of a session from `sessions` that wrote anything."""

        def flushed(session: Session, _context: UOWTransaction) -> None:
            session.info[_WROTE] = True

        def executed(state: ORMExecuteState) -> None:
            if not state.is_select:  # UPDATE and DELETE statements never pass through a flush
                state.session.info[_WROTE] = True

        def committed(session: Session) -> None:
            wrote, keeps = session.info.pop(_WROTE, False), session.info.pop(_KEEPS_READS, False)
            if wrote and not keeps:
                self.invalidate()

        def rolled_back(session: Session) -> None:
            session.info.pop(_WROTE, None)
            session.info.pop(_KEEPS_READS, None)

        event.listen(sessions, "after_flush", flushed)
        event.listen(sessions, "do_orm_execute", executed)
        event.listen(sessions, "after_commit", committed)
        event.listen(sessions, "after_rollback", rolled_back)


def keeps_reads(session: Session) -> None:
    """Mark `session` as writing nothing a read cache holds, so its commit drops nothing: for the one
    bookkeeping write a read makes (a token's last use, a minute apart). Each token in use would
    otherwise empty every cache once a minute; with a few hundred of them, the caches would hold nothing."""
    session.info[_KEEPS_READS] = True


class RefCache:
    """Revision -> commit sha per repository, kept with the stamp of the files git stores the ref in
    (GitRepo.ref_stamp) and used only while that stamp is unchanged. Reading a ref through pygit2 opens
    the repository, which costs more than the rest of a small read; a few stat calls tell whether the
    answer still holds, whichever process moved the ref. This process's own ref updates also drop
    everything (services/repositories/writes.after_ref_update), as ReadCache does for rows."""

    def __init__(self, *, size: int) -> None:
        self.size = size
        self.generation = 0
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], tuple[Hashable, str]] = {}

    def get(self, path: str, revision: str, stamp: Hashable) -> str | None:
        found = self._items.get((path, revision))  # a dict read is atomic
        return found[1] if found is not None and found[0] == stamp else None

    def put(self, path: str, revision: str, stamp: Hashable, sha: str, generation: int) -> None:
        """Keep `sha` unless a ref update was seen since `generation` was read."""
        with self._lock:
            if generation != self.generation:
                return
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[(path, revision)] = (stamp, sha)

    def invalidate(self) -> None:
        with self._lock:
            self.generation += 1
            self._items.clear()
