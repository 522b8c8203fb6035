from __future__ import annotations

import hashlib
import itertools

import pytest

from csghub.core.errors import InvalidArgument
from csghub.xet.hashes import chunk_hash, file_hash, sha256_from_shard, sha256_to_shard, verification_hash, xorb_hash
from csghub.xet.shards import BOOKEND, ChunkEntry, FileBlock, Shard, Term, XorbBlock, parse_shard, serialize_shard
from tests.unit.test_xet_hashes import GEN_1M_CHUNKS, gen


def _gen_1m_shard() -> Shard:
    data = gen(1_000_000)
    offsets = [0, *itertools.accumulate(GEN_1M_CHUNKS)]
    hashes = [chunk_hash(data[offsets[i] : offsets[i + 1]]) for i in range(len(GEN_1M_CHUNKS))]
    leaves = list(zip(hashes, GEN_1M_CHUNKS, strict=True))
    xorb = xorb_hash(leaves)
    return Shard(
        files=(
            FileBlock(
                hash=file_hash(leaves),
                terms=(Term(xorb, 1_000_000, 0, 18),),
                verifications=(verification_hash(hashes),),
                sha256=sha256_to_shard(hashlib.sha256(data).hexdigest()),
            ),
        ),
        xorbs=(
            XorbBlock(
                xorb,
                tuple(ChunkEntry(h, offsets[i], GEN_1M_CHUNKS[i], 0) for i, h in enumerate(hashes)),
                1_000_000,
            ),
        ),
    )


def test_gen_1m_shard_matches_what_the_client_uploaded() -> None:
    blob = serialize_shard(_gen_1m_shard())
    assert len(blob) == 1248
    assert hashlib.sha256(blob).hexdigest() == "0b7f7d4814253f36fd6469d9d451faf233df2b5d959b08413abc21cdd3590dd8"
    parsed = parse_shard(blob)
    assert parsed == _gen_1m_shard()
    assert sha256_from_shard(parsed.files[0].sha256 or b"") == hashlib.sha256(gen(1_000_000)).hexdigest()


@pytest.mark.parametrize("cut", [0, 47, 48, 100, 1247])
def test_truncated_shards_are_refused(cut: int) -> None:
    with pytest.raises(InvalidArgument):
        parse_shard(serialize_shard(_gen_1m_shard())[:cut])


def test_lying_counts_are_refused_before_allocation() -> None:
    blob = bytearray(serialize_shard(_gen_1m_shard()))
    blob[48 + 36 : 48 + 40] = (10**9).to_bytes(4, "little")  # the file block claims a billion terms
    with pytest.raises(InvalidArgument, match="more entries"):
        parse_shard(bytes(blob))


def test_bad_tag_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="Not a Xet shard"):
        parse_shard(b"\x00" * 48 + BOOKEND + BOOKEND)
