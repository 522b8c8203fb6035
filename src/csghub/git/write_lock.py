"""A fair (first come, first served) write lock per bare repository, shared by every process.

Writers of one repository arrive from the server's threads (commit API, web edits, branch changes,
post-push bookkeeping) and from git's pre-receive hook, which runs in its own process. A plain
`flock` would exclude them all but wakes waiters in no particular order, and try-and-retry loops
let a steady stream of fast writers starve slow ones. So the lock is a queue, after Craig, Landin
and Hagersten's CLH lock, made of files and `flock`:

- each writer creates a node file in `<repo>/csghub-writers/` and holds `flock` on it while it waits
  and while it holds the lock;
- under a short guard lock it swaps itself into `tail`, learning its predecessor;
- it then waits for its predecessor's `flock` only, so one release wakes exactly the next writer.

The kernel drops a `flock` when its process dies, so a writer killed at any point never wedges the
queue. A node records whether its writer got the lock ("H") or was still waiting ("W <pred>"), so a
successor of a writer that died or gave up while waiting moves on to that writer's predecessor
instead of cutting in. Waiting is bounded: a writer that waits too long leaves the queue the same way.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from csghub.core.errors import RateLimited

QUEUE_DIR = "csghub-writers"
_TAIL = "tail"
_HELD = b"H"
_WAITING = b"W"
_POLL_MAX_S = 0.02  # only the next writer polls a node, so this costs latency, never order


class WriteLockTimeout(RateLimited):
    """A writer waited longer than its bound for the writers ahead of it."""


class WriteLock:
    """One place in a repository's queue of writers; held once `acquire` returns."""

    def __init__(self, repo_path: Path) -> None:
        self.queue = repo_path / QUEUE_DIR
        self.name = f"n-{os.getpid()}-{uuid.uuid4().hex}"
        self._fd: int | None = None

    def acquire(self, timeout: float) -> None:
        self.queue.mkdir(exist_ok=True)
        fd = os.open(self.queue / self.name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)  # a fresh file: never contended
        self._fd = fd
        predecessor = self._enqueue(fd)
        deadline = time.monotonic() + timeout
        try:
            self._wait_for(predecessor, deadline)
        except BaseException:
            self.release()  # still marked waiting: a successor skips over this node
            raise
        os.pwrite(fd, _HELD, 0)  # one byte: a crash never leaves half a mark

    def _enqueue(self, fd: int) -> str:
        guard = os.open(self.queue / _TAIL, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(guard, fcntl.LOCK_EX)  # held for a read and a write, never while waiting
            predecessor = os.pread(guard, 256, 0).decode().strip()
            os.pwrite(fd, _WAITING + b" " + predecessor.encode(), 0)
            name = self.name.encode()
            os.pwrite(guard, name, 0)  # then trim: a reader without the guard never sees it empty
            os.ftruncate(guard, len(name))
        finally:
            os.close(guard)
        return predecessor

    def _wait_for(self, predecessor: str, deadline: float) -> None:
        while predecessor:
            path = self.queue / predecessor
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:  # released and already cleared away
                return
            try:
                _flock_before(fd, deadline)
                mark = os.pread(fd, 256, 0)
                # Only the successor removes a node, and only once it owns that node's flock.
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            finally:
                os.close(fd)
            if not mark.startswith(_WAITING):
                return  # the predecessor held the lock and let go (or died holding it)
            predecessor = mark[len(_WAITING) :].decode().strip()  # it never got the lock: wait for its own

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def keep_until_exit(self, pid: int, limit: float) -> None:
        """Leave the lock held by a child that lets go when process `pid` exits (at most `limit` s).

        The pre-receive hook checks a push under the lock, but git moves the refs after the hook
        returns; the lock must outlive the hook until the receive-pack that ran it is done.
        """
        assert self._fd is not None
        watch = os.pidfd_open(pid)
        if os.fork() == 0:  # the child shares the lock's open file and so keeps it held
            null = os.open(os.devnull, os.O_RDWR)
            for std in (0, 1, 2):  # git reads the hook's output until every copy is closed
                os.dup2(null, std)
            poller = select.poll()
            poller.register(watch, select.POLLIN)
            poller.poll(int(limit * 1000))
            os._exit(0)
        os.close(watch)
        self.release()


def _flock_before(fd: int, deadline: float) -> None:
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        if time.monotonic() >= deadline:
            raise WriteLockTimeout("Other writes to this repository are taking too long; try again shortly")
        time.sleep(pause)
        pause = min(pause * 2, _POLL_MAX_S)


@contextlib.contextmanager
def hold(repo_path: Path, timeout: float) -> Iterator[WriteLock]:
    lock = WriteLock(repo_path)
    lock.acquire(timeout)
    try:
        yield lock
    finally:
        lock.release()
