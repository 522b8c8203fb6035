"""Xet content-addressed storage: xorbs verified and stored once, files registered by shards, and
file bytes rebuilt from their terms.

Owns the `xet_xorbs` and `xet_files` rows. A xorb's serialized bytes are an ordinary blob-store object
named by their sha256, so local and S3 storage, ranges and presigned URLs all work unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import secrets
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from blake3 import blake3
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from csghub.core.errors import InvalidArgument, NotFound
from csghub.db.models import XetDedupChunk, XetFile, XetXorb
from csghub.services.context import Hub
from csghub.storage.base import iter_file
from csghub.xet.hashes import file_hash, from_hex, sha256_from_shard, to_hex, verification_hash, word3
from csghub.xet.shards import ChunkEntry, FileBlock, Shard, XorbBlock, parse_shard, serialize_dedup_answer
from csghub.xet.xorbs import (
    HEADER_SIZE,
    Buffer,
    ParsedXorb,
    XorbChunk,
    decode_chunk,
    parse_xorb,
    parse_xorb_stream,
    read_header,
)

_CHUNK = struct.Struct("<III32s")  # serialized offset, serialized length, size, raw chunk hash
_TERM = struct.Struct("<32sIII")  # raw xorb hash, chunk start, chunk end, unpacked bytes


class XetObjectNotFound(NotFound):
    code = "XetObjectNotFound"


@dataclass(frozen=True, slots=True)
class StoredXorb:
    hash: str
    blob_oid: str
    chunks: tuple[XorbChunk, ...]


@dataclass(frozen=True, slots=True)
class FileTerm:
    xorb: StoredXorb
    start: int
    end: int

    @property
    def size(self) -> int:
        return sum(c.size for c in self.xorb.chunks[self.start : self.end])


@dataclass(frozen=True, slots=True)
class RegisteredFile:
    """A file a shard registered, with the sha256 that shard claimed for it."""

    hash: str
    sha256: str


@dataclass(frozen=True, slots=True)
class StoredFile:
    hash: str
    size: int
    sha256: str
    sha256_verified: bool
    terms: tuple[FileTerm, ...]


def _pack_chunks(chunks: tuple[XorbChunk, ...]) -> bytes:
    return b"".join(_CHUNK.pack(c.offset, c.length, c.size, c.hash) for c in chunks)


def _unpack_chunks(table: bytes) -> tuple[XorbChunk, ...]:
    return tuple(XorbChunk(o, n, s, h) for o, n, s, h in _CHUNK.iter_unpack(table))


def _stored(row: XetXorb) -> StoredXorb:
    return StoredXorb(row.hash, row.blob_oid, _unpack_chunks(row.chunk_table))


def store_xorb(hub: Hub, xorb_hash: str, data: Buffer) -> bool:
    """Verify and store a serialized xorb; False if it was already stored (never overwritten)."""
    expected = from_hex(xorb_hash)
    with hub.db() as session:
        if session.get(XetXorb, xorb_hash) is not None:
            return False
    parsed = parse_xorb(data, expected)
    # Any footer is dropped: the chunk table lives in the database.
    body = memoryview(data)[: parsed.serialized_size]
    oid = hashlib.sha256(body).hexdigest()
    if hub.blobs.stat(oid) != len(body):
        step = 1024 * 1024
        hub.blobs.put(oid, len(body), (bytes(body[i : i + step]) for i in range(0, len(body), step)))
    return _record_xorb(hub, xorb_hash, oid, parsed)


def _record_xorb(hub: Hub, xorb_hash: str, oid: str, parsed: ParsedXorb) -> bool:
    try:
        with hub.db() as session:
            session.add(
                XetXorb(
                    hash=xorb_hash,
                    blob_oid=oid,
                    serialized_size=parsed.serialized_size,
                    uncompressed_size=parsed.uncompressed_size,
                    chunk_table=_pack_chunks(parsed.chunks),
                )
            )
    except IntegrityError:
        return False  # a concurrent upload of the same xorb won; its bytes are identical
    return True


def store_xorb_file(hub: Hub, xorb_hash: str, path: Path) -> bool:
    """store_xorb for an upload spooled to disk, read one chunk record at a time."""
    expected = from_hex(xorb_hash)
    with hub.db() as session:
        if session.get(XetXorb, xorb_hash) is not None:
            return False
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        parsed = parse_xorb_stream(fh, expected, sha256=digest)
    oid = digest.hexdigest()
    if hub.blobs.stat(oid) != parsed.serialized_size:
        with open(path, "rb") as fh:
            hub.blobs.put(oid, parsed.serialized_size, iter_file(fh, parsed.serialized_size))
    return _record_xorb(hub, xorb_hash, oid, parsed)


class _XorbCache:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.found: dict[bytes, StoredXorb] = {}

    def get(self, raw: bytes) -> StoredXorb:
        if raw not in self.found:
            row = self.session.get(XetXorb, to_hex(raw))
            if row is None:
                raise InvalidArgument(f"Shard references xorb {to_hex(raw)}, which was never uploaded")
            self.found[raw] = _stored(row)
        return self.found[raw]


def _check_file(block: FileBlock, xorbs: _XorbCache) -> tuple[int, bytes]:
    """Verify one file block against stored xorbs (§8.2); returns its size and packed terms."""
    name = to_hex(block.hash)
    if len(block.verifications) != len(block.terms):
        raise InvalidArgument(f"File {name} lacks verification entries for its terms")
    if block.sha256 is None:
        raise InvalidArgument(f"File {name} lacks its sha256 (metadata extension)")
    leaves: list[tuple[bytes, int]] = []
    packed = bytearray()
    for term, proof in zip(block.terms, block.verifications, strict=True):
        xorb = xorbs.get(term.xorb)
        if not 0 <= term.start < term.end <= len(xorb.chunks):
            raise InvalidArgument(f"File {name} names chunks {term.start}..{term.end} outside xorb {xorb.hash}")
        chunks = xorb.chunks[term.start : term.end]
        if sum(c.size for c in chunks) != term.unpacked_bytes:
            raise InvalidArgument(f"File {name} declares a wrong size for a term over xorb {xorb.hash}")
        if verification_hash([c.hash for c in chunks]) != proof:
            raise InvalidArgument(f"File {name} has a wrong verification hash for a term over xorb {xorb.hash}")
        leaves += [(c.hash, c.size) for c in chunks]
        packed += _TERM.pack(term.xorb, term.start, term.end, term.unpacked_bytes)
    if file_hash(leaves) != block.hash:
        raise InvalidArgument(f"File hash {name} does not match its chunks")
    return sum(size for _, size in leaves), bytes(packed)


def register_shard(hub: Hub, data: bytes) -> list[RegisteredFile]:
    """Verify a shard against the stored xorbs and register its files; all or nothing."""
    shard = parse_shard(data)
    registered = []
    with hub.db() as session:
        xorbs = _XorbCache(session)
        for xorb_block in shard.xorbs:
            stored = xorbs.get(xorb_block.hash)
            if [(c.hash, c.size) for c in stored.chunks] != [(c.hash, c.size) for c in xorb_block.chunks]:
                raise InvalidArgument(f"Shard describes xorb {stored.hash} with chunks other than those uploaded")
        for block in shard.files:
            size, terms = _check_file(block, xorbs)
            name = to_hex(block.hash)
            sha256 = sha256_from_shard(block.sha256 or b"")
            if session.get(XetFile, name) is None:
                session.add(XetFile(hash=name, size=size, sha256=sha256, terms=terms))
                session.flush()
            registered.append(RegisteredFile(name, sha256))
        _index_for_dedup(session, shard, xorbs)
    return registered


def _index_for_dedup(session: Session, shard: Shard, xorbs: _XorbCache) -> None:
    """Remember which chunks a later upload may ask about (§10): first chunks of files, eligible chunks."""
    wanted: dict[str, tuple[str, str | None]] = {}
    for xorb_block in shard.xorbs:
        for entry in xorb_block.chunks:
            if word3(entry.hash) % 1024 == 0 or entry.flags & (1 << 31):
                wanted[to_hex(entry.hash)] = (to_hex(xorb_block.hash), None)
    for block in shard.files:
        if block.terms:
            first = xorbs.get(block.terms[0].xorb)
            wanted[to_hex(first.chunks[block.terms[0].start].hash)] = (first.hash, to_hex(block.hash))
    for chunk, (xorb_name, file_name) in wanted.items():
        row = session.get(XetDedupChunk, chunk)
        if row is None:
            session.add(XetDedupChunk(chunk_hash=chunk, xorb_hash=xorb_name, file_hash=file_name))
        elif file_name and row.file_hash is None:
            row.file_hash = file_name


MAX_DEDUP_XORBS = 64


def dedup_answer(hub: Hub, chunk: str) -> bytes:
    """A shard offering the xorbs that hold `chunk` (all of its file's, for a file's first chunk),
    with chunk hashes keyed by a fresh random key so the client learns only what it already has."""
    with hub.db() as session:
        row = session.get(XetDedupChunk, chunk)
        if row is None:
            raise XetObjectNotFound(f"Chunk {chunk} is not known")
        names = [row.xorb_hash]
        if row.file_hash is not None:
            found = session.get(XetFile, row.file_hash)
            if found is not None:
                for raw, *_ in _TERM.iter_unpack(found.terms):
                    if to_hex(raw) not in names:
                        names.append(to_hex(raw))
        xorbs = _XorbCache(session)
        stored = [xorbs.get(from_hex(name)) for name in names[:MAX_DEDUP_XORBS]]
    key = secrets.token_bytes(32)
    blocks = []
    for xorb in stored:
        offsets = [0, *itertools.accumulate(c.size for c in xorb.chunks)]
        entries = tuple(
            ChunkEntry(blake3(c.hash, key=key).digest(), offsets[i], c.size, 0) for i, c in enumerate(xorb.chunks)
        )
        blocks.append(XorbBlock(from_hex(xorb.hash), entries, offsets[-1]))
    return serialize_dedup_answer(blocks, hmac_key=key, now=int(time.time()))


def unpack_term_xorbs(terms: bytes) -> set[str]:
    """The names of the xorbs a packed term list uses."""
    return {to_hex(raw) for raw, *_ in _TERM.iter_unpack(terms)}


def get_file(hub: Hub, name: str) -> StoredFile:
    with hub.db() as session:
        row = session.get(XetFile, name)
        if row is None:
            raise XetObjectNotFound(f"Xet file {name} does not exist")
        xorbs = _XorbCache(session)
        terms = tuple(FileTerm(xorbs.get(x), s, e) for x, s, e, _ in _TERM.iter_unpack(row.terms))
        return StoredFile(row.hash, row.size, row.sha256, row.sha256_verified, terms)


def _records(hub: Hub, xorb: StoredXorb, first: XorbChunk, last: XorbChunk) -> Iterator[bytes]:
    """Decoded chunks from `first` to `last`, streamed from one ranged read of the xorb."""
    buffer = bytearray()
    for block in hub.blobs.read(xorb.blob_oid, first.offset, last.offset + last.length):
        buffer += block
        while len(buffer) >= HEADER_SIZE:
            _, payload_len, scheme, size = read_header(buffer)
            if len(buffer) < HEADER_SIZE + payload_len:
                break
            yield decode_chunk(scheme, bytes(buffer[HEADER_SIZE : HEADER_SIZE + payload_len]), size)
            del buffer[: HEADER_SIZE + payload_len]


def read_file(hub: Hub, stored: StoredFile, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Stream bytes [start, end) of a file, fetching only the chunks that overlap the range."""
    end = stored.size if end is None else min(end, stored.size)
    position = 0
    for term in stored.terms:
        chunks = term.xorb.chunks[term.start : term.end]
        wanted: list[tuple[int, XorbChunk]] = []
        for chunk in chunks:
            if position < end and position + chunk.size > start:
                wanted.append((position, chunk))
            position += chunk.size
        if not wanted:
            continue
        for (chunk_start, _), data in zip(wanted, _records(hub, term.xorb, wanted[0][1], wanted[-1][1]), strict=True):
            yield data[max(start - chunk_start, 0) : max(min(end - chunk_start, len(data)), 0)]


def verify_sha256(hub: Hub, name: str, claimed: str) -> StoredFile:
    """Check that a file's bytes hash to the sha256 an uploader claimed, before anything can use it.

    The file is rebuilt and hashed once and the true sha256 kept, so whoever registered the same
    bytes first, with a false claim, does not stand in the way of a later uploader's true one.
    """
    stored = get_file(hub, name)
    if not stored.sha256_verified:
        digest = hashlib.sha256()
        for block in read_file(hub, stored):
            digest.update(block)
        with hub.db() as session:
            row = session.get(XetFile, name)
            if row is not None:
                row.sha256, row.sha256_verified = digest.hexdigest(), True
        stored = dataclasses.replace(stored, sha256=digest.hexdigest(), sha256_verified=True)
    if stored.sha256 != claimed:
        raise InvalidArgument(f"Xet file {name} claims sha256 {claimed} but its bytes hash to {stored.sha256}")
    return stored
