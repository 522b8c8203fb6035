"""Objects on their way from an upstream into storage: one fetch per object however many ask.

The first request for an object the pull-through cache lacks starts one fetch in a thread. Its bytes go
into storage (hashed there; published only when the sha256 and size verify) and, as they arrive, into a
temp file that every client asking meanwhile reads as it grows: the first client and late joiners alike
are streamed while the object is written. If the fetch fails, every reader's stream breaks (it never
ends early as if complete) and storage keeps nothing. Another process fetching the same object holds
its lock file; this one then waits for it and serves the object from storage.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from csghub.core.errors import HubError

log = logging.getLogger(__name__)
# A reader waits this long for the next bytes before it gives up on a stalled fetch.
STALL_S = 120.0
# How long a process waits for another process's fetch of the same object.
OTHER_PROCESS_WAIT_S = 3600.0
CHUNK = 1024 * 1024


class FetchFailed(HubError):
    status = 502
    code = "UpstreamUnavailable"


class Arrival:
    """One object being fetched: its temp file, how much of it is written, and how it ended."""

    def __init__(self, oid: str, size: int, part: Path) -> None:
        self.oid = oid
        self.size = size
        self.part = part
        self.written = 0
        self.done = False
        self.error: HubError | None = None
        self.elsewhere = False  # another process fetches it: readers wait, then read storage
        self.changed = threading.Condition()

    def wait(self, timeout: float) -> bool:
        """Until it ends (True if it verified and is stored)."""
        with self.changed:
            self.changed.wait_for(lambda: self.done, timeout=timeout)
            return self.done and self.error is None

    def started(self, timeout: float) -> HubError | None:
        """Wait until the first bytes came (or it ended); its error if it failed before any came."""
        self._wait_past(0, timeout)
        with self.changed:
            return self.error if self.written == 0 else None

    def _wait_past(self, pos: int, timeout: float = STALL_S) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.written > pos or self.done, timeout=timeout)

    def _advance(self, written: int) -> None:
        with self.changed:
            self.written = written
            self.changed.notify_all()

    def _finish(self, error: HubError | None) -> None:
        with self.changed:
            self.error = error
            self.done = True
            self.changed.notify_all()

    def read(self, start: int, end: int | None, stored: Callable[[int, int], Iterator[bytes]]) -> Iterator[bytes]:
        """[start, end) as the fetch writes it; raises if the fetch fails before `end`. `stored(start,
        end)` reads storage, for an object another process fetched."""
        end = self.size if end is None else min(end, self.size)
        pos = start
        try:
            fh = open(self.part, "rb")  # noqa: SIM115 - readable even once the fetch has removed its name
        except FileNotFoundError:  # the fetch is over already: its bytes are in storage, or nowhere
            if not self.wait(STALL_S):
                raise self.error or FetchFailed(f"Object {self.oid} could not be fetched from the upstream") from None
            yield from stored(start, end)
            return
        with fh:
            while pos < end:
                if self.elsewhere:
                    if not self.wait(OTHER_PROCESS_WAIT_S):
                        raise self.error or FetchFailed(f"Object {self.oid} could not be fetched from the upstream")
                    yield from stored(pos, end)
                    return
                ready = self._wait_past(pos)
                with self.changed:
                    written, error = self.written, self.error
                if error is not None:
                    raise error
                if self.elsewhere:
                    continue
                if not ready:
                    raise FetchFailed(f"The upstream stalled while sending object {self.oid}")
                if written <= pos:
                    raise FetchFailed(f"The upstream ended object {self.oid} early")
                fh.seek(pos)
                data = fh.read(min(CHUNK, min(written, end) - pos))
                pos += len(data)
                yield data


class Arrivals:
    """The fetches under way in this process, by oid (kept on the hub by the pull-through cache)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_oid: dict[str, Arrival] = {}

    def get(self, oid: str) -> Arrival | None:
        with self._lock:
            return self._by_oid.get(oid)

    def start(
        self,
        oid: str,
        size: int,
        tmp_dir: Path,
        fetch: Callable[[], Iterable[bytes]],
        store: Callable[[Iterable[bytes]], None],
    ) -> Arrival:
        """The fetch of `oid` under way, started now if none is: `fetch()` yields the upstream's bytes,
        `store(chunks)` keeps them (verifying them: it raises if they do not match)."""
        with self._lock:
            found = self._by_oid.get(oid)
            if found is not None:
                return found
            tmp_dir.mkdir(parents=True, exist_ok=True)
            arrival = Arrival(oid, size, tmp_dir / f"proxy-{oid}.{secrets.token_hex(4)}.part")
            arrival.part.touch()
            self._by_oid[oid] = arrival
        threading.Thread(
            target=self._run, args=(arrival, tmp_dir, fetch, store), name="mirror-fetch", daemon=True
        ).start()
        return arrival

    def _run(
        self,
        arrival: Arrival,
        tmp_dir: Path,
        fetch: Callable[[], Iterable[bytes]],
        store: Callable[[Iterable[bytes]], None],
    ) -> None:
        error: HubError | None = None
        try:
            with _process_lock(tmp_dir / f"proxy-{arrival.oid}.lock") as mine:
                if not mine:
                    arrival.elsewhere = True
                    _wait_for_other(tmp_dir / f"proxy-{arrival.oid}.lock")
                else:
                    store(self._tee(arrival, fetch()))
        except HubError as exc:
            error = exc
        except Exception as exc:  # a thread boundary: the readers get the reason, the log the trace
            log.exception("fetching object %s from the upstream failed", arrival.oid)
            error = FetchFailed(f"Object {arrival.oid} could not be fetched from the upstream: {exc}")
        finally:
            with self._lock:
                self._by_oid.pop(arrival.oid, None)
            with contextlib.suppress(FileNotFoundError):
                arrival.part.unlink()
            arrival._finish(error)

    @staticmethod
    def _tee(arrival: Arrival, chunks: Iterable[bytes]) -> Iterator[bytes]:
        written = 0
        with open(arrival.part, "r+b") as fh:
            for chunk in chunks:
                if written + len(chunk) > arrival.size:
                    raise FetchFailed(f"The upstream sent more than the {arrival.size} bytes of object {arrival.oid}")
                fh.write(chunk)
                fh.flush()
                written += len(chunk)
                arrival._advance(written)
                yield chunk


@contextlib.contextmanager
def _process_lock(path: Path) -> Iterator[bool]:
    """Held by the one process fetching an object; False when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            # Gone before it is released: a process that waits on it opens a new one, and finds it free.
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _wait_for_other(path: Path) -> None:
    deadline = time.monotonic() + OTHER_PROCESS_WAIT_S
    while time.monotonic() < deadline:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
        time.sleep(0.2)  # polling another process's lock: there is nothing to be notified by
    raise FetchFailed("Another worker's fetch of this object did not finish")
