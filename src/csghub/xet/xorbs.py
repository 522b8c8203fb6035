"""Serialized xorbs (§6.6): chunk records, parsed and verified on upload, decoded on download."""

from __future__ import annotations

import hashlib
import mmap
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import lz4.frame

from csghub.core.errors import InvalidArgument
from csghub.xet.hashes import chunk_hash, xorb_hash

HEADER_SIZE = 8
MAX_CHUNK = 131_072
MAX_PAYLOAD = 2 * MAX_CHUNK
MAX_CHUNKS = 8192
MAX_XORB_BYTES = 64 * 1024 * 1024
FOOTER_IDENT = b"XETBLOB"

SCHEME_NONE, SCHEME_LZ4, SCHEME_BG4_LZ4 = 0, 1, 2

# Serialized xorbs are parsed from bytes or straight from a memory-mapped upload.
Buffer = bytes | bytearray | mmap.mmap


@dataclass(frozen=True, slots=True)
class XorbChunk:
    """Where one chunk sits in a serialized xorb, and what it is."""

    offset: int  # serialized offset of the chunk's 8-byte header
    length: int  # serialized length including the header
    size: int  # uncompressed size
    hash: bytes


@dataclass(frozen=True, slots=True)
class ParsedXorb:
    hash: bytes
    chunks: tuple[XorbChunk, ...]
    serialized_size: int  # bytes of chunk records, without any footer

    @property
    def uncompressed_size(self) -> int:
        return sum(c.size for c in self.chunks)


def _bg4_split(data: bytes) -> bytes:
    return b"".join(data[k::4] for k in range(4))


def _bg4_join(data: bytes, size: int) -> bytes:
    sizes = [size // 4 + (1 if size % 4 > k else 0) for k in range(4)]
    out = bytearray(size)
    pos = 0
    for k, plane_size in enumerate(sizes):
        out[k::4] = data[pos : pos + plane_size]
        pos += plane_size
    return bytes(out)


def decode_chunk(scheme: int, payload: bytes, size: int) -> bytes:
    """The uncompressed bytes of one chunk record's payload; InvalidArgument if they don't decode."""
    if scheme == SCHEME_NONE:
        data = payload
    elif scheme in (SCHEME_LZ4, SCHEME_BG4_LZ4):
        try:
            data = lz4.frame.decompress(payload)
        except RuntimeError as exc:
            raise InvalidArgument(f"Xorb chunk does not decompress: {exc}") from None
        if scheme == SCHEME_BG4_LZ4 and len(data) == size:
            data = _bg4_join(data, size)
    else:
        raise InvalidArgument(f"Unknown xorb chunk compression scheme {scheme}")
    if len(data) != size:
        raise InvalidArgument(f"Xorb chunk decodes to {len(data)} bytes, its header says {size}")
    return data


def read_header(data: Buffer, offset: int = 0) -> tuple[int, int, int, int]:
    """(version, payload length, scheme, uncompressed size) of the chunk record at `offset`."""
    return _header(data, offset)


def _header(data: Buffer, offset: int) -> tuple[int, int, int, int]:
    version, plen_lo, plen_hi, scheme, size_lo, size_hi = struct.unpack_from("<BHBBHB", data, offset)
    return version, plen_lo | plen_hi << 16, scheme, size_lo | size_hi << 16


def iter_records(data: Buffer) -> list[tuple[int, int, int, int]]:
    """(offset, scheme, payload length, uncompressed size) of each chunk record, bounds-checked."""
    records = []
    pos = 0
    while pos < len(data):
        if data[pos : pos + len(FOOTER_IDENT)] == FOOTER_IDENT:
            break
        if pos + HEADER_SIZE > len(data):
            raise InvalidArgument(f"Xorb is truncated inside the chunk header at byte {pos}")
        version, payload_len, scheme, size = _header(data, pos)
        if version != 0:
            raise InvalidArgument(f"Unsupported xorb chunk version {version} at byte {pos}")
        if not 1 <= size <= MAX_CHUNK or payload_len > MAX_PAYLOAD:
            raise InvalidArgument(f"Xorb chunk at byte {pos} has an invalid size")
        if pos + HEADER_SIZE + payload_len > len(data):
            raise InvalidArgument(f"Xorb is truncated inside the chunk at byte {pos}")
        records.append((pos, scheme, payload_len, size))
        pos += HEADER_SIZE + payload_len
        if len(records) > MAX_CHUNKS:
            raise InvalidArgument(f"Xorb has more than {MAX_CHUNKS} chunks")
    return records


def parse_xorb(data: Buffer, expected_hash: bytes | None = None) -> ParsedXorb:
    """Decode every chunk, hash it, and check the xorb hash (§8.1)."""
    records = iter_records(data)
    if not records:
        raise InvalidArgument("Xorb has no chunks")
    chunks = []
    total = 0
    for offset, scheme, payload_len, size in records:
        payload = bytes(data[offset + HEADER_SIZE : offset + HEADER_SIZE + payload_len])
        raw = decode_chunk(scheme, payload, size)
        total += size
        if total > MAX_XORB_BYTES:
            raise InvalidArgument(f"Xorb holds more than {MAX_XORB_BYTES} uncompressed bytes")
        chunks.append(XorbChunk(offset, HEADER_SIZE + payload_len, size, chunk_hash(raw)))
    digest = xorb_hash([(c.hash, c.size) for c in chunks])
    if expected_hash is not None and digest != expected_hash:
        raise InvalidArgument("Xorb hash does not match its chunks")
    end = records[-1][0] + HEADER_SIZE + records[-1][2]
    return ParsedXorb(digest, tuple(chunks), end)


def parse_xorb_stream(
    fh: BinaryIO, expected_hash: bytes | None = None, *, sha256: hashlib._Hash | None = None
) -> ParsedXorb:
    """parse_xorb reading one chunk record at a time, so a 64 MiB upload never sits in memory.

    `sha256`, when given, is fed the chunk records (not any footer), the bytes the store keeps."""
    chunks: list[XorbChunk] = []
    offset = total = 0
    while True:
        header = fh.read(HEADER_SIZE)
        if not header or header[: len(FOOTER_IDENT)] == FOOTER_IDENT:
            break
        if len(header) < HEADER_SIZE:
            raise InvalidArgument(f"Xorb is truncated inside the chunk header at byte {offset}")
        version, payload_len, scheme, size = _header(header, 0)
        if version != 0:
            raise InvalidArgument(f"Unsupported xorb chunk version {version} at byte {offset}")
        if not 1 <= size <= MAX_CHUNK or payload_len > MAX_PAYLOAD:
            raise InvalidArgument(f"Xorb chunk at byte {offset} has an invalid size")
        payload = fh.read(payload_len)
        if len(payload) < payload_len:
            raise InvalidArgument(f"Xorb is truncated inside the chunk at byte {offset}")
        total += size
        if len(chunks) >= MAX_CHUNKS or total > MAX_XORB_BYTES:
            raise InvalidArgument(f"Xorb holds more than {MAX_CHUNKS} chunks or {MAX_XORB_BYTES} bytes")
        chunks.append(
            XorbChunk(offset, HEADER_SIZE + payload_len, size, chunk_hash(decode_chunk(scheme, payload, size)))
        )
        if sha256 is not None:
            sha256.update(header)
            sha256.update(payload)
        offset += HEADER_SIZE + payload_len
    if not chunks:
        raise InvalidArgument("Xorb has no chunks")
    digest = xorb_hash([(c.hash, c.size) for c in chunks])
    if expected_hash is not None and digest != expected_hash:
        raise InvalidArgument("Xorb hash does not match its chunks")
    return ParsedXorb(digest, tuple(chunks), offset)


def serialize_xorb(chunks: Sequence[bytes], *, scheme: int = SCHEME_NONE) -> bytes:
    """Chunk records for `chunks` (used by tests and by server-built xorbs)."""
    out = bytearray()
    for raw in chunks:
        if not 1 <= len(raw) <= MAX_CHUNK:
            raise InvalidArgument("Xorb chunks must hold 1 to 131072 bytes")
        if scheme == SCHEME_NONE:
            payload = raw
        elif scheme == SCHEME_LZ4:
            payload = lz4.frame.compress(raw)
        else:
            payload = lz4.frame.compress(_bg4_split(raw))
        out += struct.pack(
            "<BHBBHB", 0, len(payload) & 0xFFFF, len(payload) >> 16, scheme, len(raw) & 0xFFFF, len(raw) >> 16
        )
        out += payload
    return bytes(out)
