"""Shards (§7): the binary document that registers files (as terms over xorbs) and new xorbs."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from csghub.core.errors import InvalidArgument

TAG = bytes.fromhex("48465265706f4d6574614461746100556967456a7b815783a5bdd95ccdd14aa9")
VERSION = 2
RECORD = 48
BOOKEND = b"\xff" * 32 + b"\x00" * 16
FLAG_VERIFICATION = 1 << 31
FLAG_METADATA_EXT = 1 << 30
MAX_SHARD_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Term:
    xorb: bytes
    unpacked_bytes: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class FileBlock:
    hash: bytes
    terms: tuple[Term, ...]
    verifications: tuple[bytes, ...]  # one per term, when the file carries them
    sha256: bytes | None  # raw (word-reversed) FileMetadataExt digest


@dataclass(frozen=True, slots=True)
class ChunkEntry:
    hash: bytes
    offset: int  # cumulative uncompressed offset in the xorb
    size: int
    flags: int


@dataclass(frozen=True, slots=True)
class XorbBlock:
    hash: bytes
    chunks: tuple[ChunkEntry, ...]
    uncompressed_bytes: int


@dataclass(frozen=True, slots=True)
class Shard:
    files: tuple[FileBlock, ...]
    xorbs: tuple[XorbBlock, ...]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def record(self) -> bytes:
        if self.pos + RECORD > len(self.data):
            raise InvalidArgument("Shard is truncated")
        out = self.data[self.pos : self.pos + RECORD]
        self.pos += RECORD
        return out

    def need(self, records: int) -> None:
        # Counts come from the client: check them against the bytes left before trusting them.
        if self.pos + records * RECORD > len(self.data):
            raise InvalidArgument("Shard declares more entries than it holds")


def parse_shard(data: bytes) -> Shard:
    if len(data) > MAX_SHARD_BYTES:
        raise InvalidArgument(f"Shard exceeds {MAX_SHARD_BYTES} bytes")
    reader = _Reader(data)
    header = reader.record()
    version, footer_size = struct.unpack_from("<QQ", header, 32)
    if header[:32] != TAG or version != VERSION or footer_size not in (0, 200):
        raise InvalidArgument("Not a Xet shard (bad tag, version or footer size)")
    files = []
    while True:
        head = reader.record()
        if head == BOOKEND:
            break
        flags, count = struct.unpack_from("<II", head, 32)
        reader.need(count * (1 + bool(flags & FLAG_VERIFICATION)) + bool(flags & FLAG_METADATA_EXT))
        terms = []
        for _ in range(count):
            rec = reader.record()
            unpacked, start, end = struct.unpack_from("<III", rec, 36)
            terms.append(Term(rec[:32], unpacked, start, end))
        verifications = tuple(reader.record()[:32] for _ in range(count)) if flags & FLAG_VERIFICATION else ()
        sha256 = reader.record()[:32] if flags & FLAG_METADATA_EXT else None
        files.append(FileBlock(head[:32], tuple(terms), verifications, sha256))
    xorbs = []
    while True:
        head = reader.record()
        if head == BOOKEND:
            break
        count, total = struct.unpack_from("<II", head, 36)
        reader.need(count)
        chunks = []
        for _ in range(count):
            rec = reader.record()
            offset, size, flags = struct.unpack_from("<III", rec, 32)
            chunks.append(ChunkEntry(rec[:32], offset, size, flags))
        xorbs.append(XorbBlock(head[:32], tuple(chunks), total))
    return Shard(tuple(files), tuple(xorbs))


def serialize_shard(shard: Shard) -> bytes:
    """The upload form (no footer), as hf_xet writes it."""
    out = bytearray(TAG + struct.pack("<QQ", VERSION, 0))
    for file in shard.files:
        flags = (FLAG_VERIFICATION if file.verifications else 0) | (FLAG_METADATA_EXT if file.sha256 else 0)
        out += file.hash + struct.pack("<IIQ", flags, len(file.terms), 0)
        for term in file.terms:
            out += term.xorb + struct.pack("<IIII", 0, term.unpacked_bytes, term.start, term.end)
        for verification in file.verifications:
            out += verification + bytes(16)
        if file.sha256:
            out += file.sha256 + bytes(16)
    out += BOOKEND
    for xorb in shard.xorbs:
        out += xorb.hash + struct.pack("<IIII", 0, len(xorb.chunks), xorb.uncompressed_bytes, 0)
        for chunk in xorb.chunks:
            out += chunk.hash + struct.pack("<IIII", chunk.offset, chunk.size, chunk.flags, 0)
    out += BOOKEND
    return bytes(out)


FOOTER_SIZE = 200
DEDUP_ANSWER_TTL = 7 * 24 * 3600


def _word0(raw: bytes) -> int:
    return int.from_bytes(raw[:8], "little")


def serialize_dedup_answer(xorbs: list[XorbBlock], *, hmac_key: bytes, now: int) -> bytes:
    """The full shard form (§7.5) a client stores as a dedup answer: no files, the given xorbs with
    their chunk hashes already keyed by `hmac_key`, lookup tables and the footer."""
    xorbs = sorted(xorbs, key=lambda x: (_word0(x.hash), x.hash))
    out = bytearray(TAG + struct.pack("<QQ", VERSION, FOOTER_SIZE))
    file_info_offset = len(out)
    out += BOOKEND
    cas_info_offset = len(out)
    xorb_rows: list[tuple[int, int]] = []
    chunk_rows: list[tuple[int, int, int]] = []
    record = 0
    for xorb in xorbs:
        xorb_rows.append((_word0(xorb.hash), record))
        out += xorb.hash + struct.pack("<IIII", 0, len(xorb.chunks), xorb.uncompressed_bytes, 0)
        for index, chunk in enumerate(xorb.chunks):
            chunk_rows.append((_word0(chunk.hash), record, index))
            out += chunk.hash + struct.pack("<IIII", chunk.offset, chunk.size, chunk.flags, 0)
        record += 1 + len(xorb.chunks)
    out += BOOKEND
    file_lookup_offset = len(out)
    xorb_lookup_offset = len(out)
    for key, index in sorted(xorb_rows):
        out += struct.pack("<QI", key, index)
    chunk_lookup_offset = len(out)
    for key, index, chunk_index in sorted(chunk_rows):
        out += struct.pack("<QII", key, index, chunk_index)
    footer_offset = len(out)
    materialized = sum(x.uncompressed_bytes for x in xorbs)
    out += struct.pack(
        "<QQQQQQQQQ",
        1,
        file_info_offset,
        cas_info_offset,
        file_lookup_offset,
        0,
        xorb_lookup_offset,
        len(xorb_rows),
        chunk_lookup_offset,
        len(chunk_rows),
    )
    out += hmac_key + struct.pack("<QQ", now, now + DEDUP_ANSWER_TTL) + bytes(48)
    out += struct.pack("<QQQQ", materialized, materialized, materialized, footer_offset)
    return bytes(out)
