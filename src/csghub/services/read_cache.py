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
from collections.abc import Hashable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker

_WROTE = "csghub.wrote"


class ReadCache:
    def __init__(self, *, ttl: float, size: int, max_bytes: int) -> None:
        self.ttl = ttl
        self.size = size
        self.max_bytes = max_bytes
        self.generation = 0
        self._lock = threading.Lock()
        self._items: dict[Hashable, tuple[float, Any]] = {}
        self._bytes = 0

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
            if session.info.pop(_WROTE, False):
                self.invalidate()

        def rolled_back(session: Session) -> None:
            session.info.pop(_WROTE, None)

        event.listen(sessions, "after_flush", flushed)
        event.listen(sessions, "do_orm_execute", executed)
        event.listen(sessions, "after_commit", committed)
        event.listen(sessions, "after_rollback", rolled_back)


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
