from __future__ import annotations

import hashlib
import os

import pytest

from csghub.core.errors import InvalidArgument
from csghub.xet.hashes import to_hex
from csghub.xet.xorbs import SCHEME_BG4_LZ4, SCHEME_LZ4, decode_chunk, parse_xorb, serialize_xorb
from tests.unit.test_xet_hashes import GEN_1M_CHUNKS, gen


def _split(data: bytes, lengths: list[int]) -> list[bytes]:
    out, pos = [], 0
    for length in lengths:
        out.append(data[pos : pos + length])
        pos += length
    return out


def test_gen_1m_xorb_matches_what_the_client_uploaded() -> None:
    blob = serialize_xorb(_split(gen(1_000_000), GEN_1M_CHUNKS))
    assert len(blob) == 1_000_144
    assert hashlib.sha256(blob).hexdigest() == "9e69b46c4055ba2a8762019cf1c78be8f571cf3f0bd6c89b182564630284905c"
    assert blob[:8] == bytes.fromhex("00873c0000873c00")
    parsed = parse_xorb(blob)
    assert to_hex(parsed.hash) == "01e9ddefaa73d6201b697240073d4e690f3fee44949c65082a75a2b838914d1f"
    assert [c.size for c in parsed.chunks] == GEN_1M_CHUNKS
    assert parsed.chunks[1].offset == 8 + GEN_1M_CHUNKS[0]


@pytest.mark.parametrize("scheme", [SCHEME_LZ4, SCHEME_BG4_LZ4])
@pytest.mark.parametrize("size", [1, 5, 4096, 131_071])
def test_compressed_chunks_decode_to_the_same_hash(scheme: int, size: int) -> None:
    raw = (b"\x00\x00\x80\x3f" * (size // 4 + 1))[:size]
    plain = parse_xorb(serialize_xorb([raw]))
    packed = parse_xorb(serialize_xorb([raw], scheme=scheme))
    assert packed.hash == plain.hash and packed.chunks[0].size == size


def test_tampered_chunk_changes_the_hash_and_is_refused() -> None:
    blob = bytearray(serialize_xorb([os.urandom(1000), os.urandom(2000)]))
    good = parse_xorb(bytes(blob))
    blob[50] ^= 0xFF
    with pytest.raises(InvalidArgument, match="does not match"):
        parse_xorb(bytes(blob), expected_hash=good.hash)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x00\x01\x00",
        b"\x01" + b"\x00" * 7,
        b"\x00\x10\x00\x00\x10\x00\x00" + b"\x00" + b"x",
        b"\x00\x04\x00\x09\x04\x00\x00abcd",
        b"\x00\x04\x00\x01\x04\x00\x00abcd",
        b"\x00\x00\x00\x00\x00\x00\x00\x00",
    ],
)
def test_malformed_xorbs_are_refused(blob: bytes) -> None:
    with pytest.raises(InvalidArgument):
        parse_xorb(blob)


def test_decode_rejects_wrong_declared_size() -> None:
    with pytest.raises(InvalidArgument):
        decode_chunk(0, b"abc", 4)


def test_streamed_parse_matches_in_memory_parse_and_hashes_the_records() -> None:
    import io

    from csghub.xet.xorbs import parse_xorb_stream

    blob = serialize_xorb(_split(gen(1_000_000), GEN_1M_CHUNKS))
    digest = hashlib.sha256()
    streamed = parse_xorb_stream(io.BytesIO(blob + b"XETBLOB\x01" + bytes(40)), sha256=digest)
    assert streamed == parse_xorb(blob)
    assert digest.hexdigest() == hashlib.sha256(blob).hexdigest()
    for cut in (3, 9, len(blob) - 1):
        with pytest.raises(InvalidArgument):
            parse_xorb_stream(io.BytesIO(blob[:cut]))
    with pytest.raises(InvalidArgument, match="does not match"):
        parse_xorb_stream(io.BytesIO(blob), expected_hash=bytes(32))
