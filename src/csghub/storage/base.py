"""The BlobStore port: content-addressed objects named by their sha256.

An object becomes visible under its oid only after its bytes were hashed and matched the oid and the
expected size. Every upload is hashed, even of an object already stored (the hub takes an upload as
proof that the uploader holds the bytes); storage then keeps the one copy it has. Transfers that can
go straight to the store (S3 presigned URLs) say so by returning URLs; the local store returns None
and the hub serves the bytes itself.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from csghub.core.errors import InvalidArgument

_OID_RE = re.compile(r"^[0-9a-f]{64}$")
READ_CHUNK = 1024 * 1024


def validate_oid(oid: str) -> str:
    if not isinstance(oid, str) or not _OID_RE.match(oid):
        raise InvalidArgument(f"Invalid object id '{oid}': expected 64 lowercase hex digits (sha256)")
    return oid


def blob_key(oid: str) -> str:
    return f"{oid[0:2]}/{oid[2:4]}/{oid}"


@dataclass(frozen=True, slots=True)
class PartUpload:
    number: int
    url: str


def check_stream(oid: str, size: int, chunks: Iterable[bytes]) -> None:
    """Hash a stream without keeping it: the upload of an object that is already stored."""
    counter = HashingCounter()
    for chunk in chunks:
        counter.update(chunk)
        if counter.size > size:
            break
    counter.check(oid, size)


def check_upload_id(upload_id: str) -> str:
    if not (0 < len(upload_id) <= 64 and upload_id.isalnum() and upload_id.isascii()):
        raise InvalidArgument(f"Invalid upload id '{upload_id}'")
    return upload_id


class HashingCounter:
    """Feeds bytes through sha256 and counts them, so a stream is verified as it is written."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes) -> None:
        self.sha256.update(data)
        self.size += len(data)

    def check(self, oid: str, size: int) -> None:
        if self.size != size:
            raise InvalidArgument(f"Size mismatch for object {oid}: expected {size} bytes, received {self.size}")
        digest = self.sha256.hexdigest()
        if digest != oid:
            raise InvalidArgument(f"Checksum mismatch: object claims sha256 {oid} but its bytes hash to {digest}")


def iter_file(fh: BinaryIO, remaining: int | None = None) -> Iterator[bytes]:
    while remaining is None or remaining > 0:
        want = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
        data = fh.read(want)
        if not data:
            return
        if remaining is not None:
            remaining -= len(data)
        yield data


class BlobStore(Protocol):
    def exists(self, oid: str) -> bool: ...

    def stat(self, oid: str) -> int | None:
        """The stored size, or None when absent."""
        ...

    def put(self, oid: str, size: int, chunks: Iterable[bytes]) -> None:
        """Store a stream; raises InvalidArgument (and stores nothing) when bytes don't match. The stream
        is hashed even when the object is already stored, which then is not stored twice."""
        ...

    def put_verified_file(self, oid: str, size: int, path: Path) -> None:
        """Store a file of this machine whose size and sha256 its writer verified as it wrote it (a mirror's
        sync job): moved in when the store can (local, same disk), else uploaded as `put` does. The file is
        gone afterwards."""
        ...

    def read(self, oid: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Stream bytes [start, end) of an object; raises BlobNotFound."""
        ...

    def delete(self, oid: str) -> None: ...

    def local_path(self, oid: str) -> Path | None:
        """The stored object as a file on this machine, for readers that seek (Parquet); None when the store
        keeps objects elsewhere (S3) or does not have it. The file must only be read."""
        ...

    # Direct transfers. Local returns None: the hub serves the transfer itself.
    def download_url(self, oid: str, ttl: int) -> str | None: ...

    def upload_url(self, oid: str, size: int, ttl: int, upload_id: str) -> str | None:
        """Where a client PUTs the bytes of one upload (named `upload_id`) straight to the store."""
        ...

    def create_multipart(self, oid: str, upload_id: str) -> str:
        """Start a multipart upload; returns the store's own upload handle."""
        ...

    def part_urls(self, upload_id: str, handle: str, count: int, ttl: int) -> list[str] | None: ...

    def put_part(self, upload_id: str, number: int, chunks: Iterable[bytes]) -> str:
        """Store one part served by the hub itself; returns its ETag."""
        ...

    def complete_multipart(
        self, oid: str, size: int, upload_id: str, handle: str, etags: list[tuple[int, str]]
    ) -> None:
        """Assemble, verify and publish the object; raises InvalidArgument on mismatch."""
        ...

    def abort_multipart(self, upload_id: str, handle: str) -> None: ...

    def verify_upload(self, oid: str, size: int, upload_id: str) -> None:
        """Hash the bytes of one direct upload (upload_url) and publish them unless already stored;
        raises InvalidArgument when that upload did not happen or its bytes don't match."""
        ...
