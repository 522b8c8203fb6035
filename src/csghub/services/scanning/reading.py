"""A file's bytes as the seekable file object picklescan needs, without copying what it does not read.

LFS and Xet objects are read through ranges (services/repositories/lfs.read_object): a stream is kept
open while reads continue where the last one ended, and a new ranged stream is opened only after a
seek. A plain pickle is then read once, front to back, and of a torch zip only the central directory
and `data.pkl` are fetched, not gigabytes of tensor data (on S3 or rebuilt from Xet chunks alike). A
stored object on this machine's disk is opened directly; a blob kept in git streams into a temporary
file (git blobs are small: large files go to LFS).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import BinaryIO

from csghub.services.context import Hub
from csghub.services.repositories import lfs
from csghub.services.scanning.results import Target

BUFFER = 1024 * 1024


class RangeReader(io.RawIOBase):
    """A read-only, seekable view of `size` bytes, reading from `open_at(position)` streams (`first`: one
    already open at 0). A storage failure is kept in `failure`: the scanner swallows errors while it
    parses, and a file it could not read must not pass for a clean one."""

    def __init__(self, size: int, open_at: Callable[[int], Iterator[bytes]], first: Iterator[bytes] | None) -> None:
        super().__init__()
        self._size = size
        self._open_at = open_at
        self._pos = 0
        self._stream: Iterator[bytes] | None = first
        self._stream_pos = 0  # where the open stream's next byte lies
        self._pending = memoryview(b"")  # bytes taken from the stream, not yet read
        self.failure: Exception | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._pos >= self._size or len(buffer) == 0:
            return 0
        try:
            if self._stream is None or self._stream_pos - len(self._pending) != self._pos:
                self._drop_stream()
                self._stream, self._stream_pos = self._open_at(self._pos), self._pos
            while not self._pending:
                chunk = next(self._stream, b"")
                if not chunk:
                    return 0
                self._pending = memoryview(chunk)
                self._stream_pos += len(chunk)
        except Exception as exc:
            self.failure = self.failure or exc
            raise
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        self._pos += count
        return count

    def _drop_stream(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()  # a generator's close runs its cleanup: the S3 body or the file is released
        self._stream, self._pending = None, memoryview(b"")

    def close(self) -> None:
        self._drop_stream()
        super().close()


@contextmanager
def open_content(hub: Hub, target: Target, env: Mapping[str, str] | None = None) -> Iterator[BinaryIO]:
    """The target's bytes as a seekable file; `env` names a push's quarantine (for blobs it brought)."""
    if target.lfs_oid is not None:
        oid = target.lfs_oid
        local = hub.blobs.local_path(oid)
        if local is not None and local.is_file():
            with open(local, "rb") as fh:
                yield fh
            return
        # Opened before the scanner reads: a missing object raises here (BlobNotFound), not inside it.
        raw = RangeReader(target.size, lambda start: lfs.read_object(hub, oid, start), lfs.read_object(hub, oid))
        with io.BufferedReader(raw, BUFFER) as reader:
            yield reader
        if raw.failure is not None:
            raise raw.failure
        return
    with tempfile.TemporaryFile(dir=hub.settings.tmp_dir, prefix="csg-scan-") as spool:
        for chunk in hub.git(target.repo_id).stream_blob(target.blob_oid, env=env):
            spool.write(chunk)
        spool.seek(0)
        yield spool
