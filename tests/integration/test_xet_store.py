"""Xet storage on a real hub (SQLite and the local blob store): xorbs, shards, rebuilt files."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from pathlib import Path

import pytest

from csghub.config import load_settings
from csghub.core.errors import InvalidArgument
from csghub.db.models import XetFile, XetXorb
from csghub.services.context import Hub
from csghub.services.xet import store as xet_store
from csghub.wiring import build_hub
from csghub.xet.hashes import chunk_hash, file_hash, sha256_to_shard, to_hex, verification_hash, xorb_hash
from csghub.xet.shards import ChunkEntry, FileBlock, Shard, Term, XorbBlock, serialize_shard
from csghub.xet.xorbs import SCHEME_LZ4, SCHEME_NONE, serialize_xorb
from tests.unit.test_xet_hashes import GEN_1M_CHUNKS, gen

DATA = gen(1_000_000)
OFFSETS = [0, *itertools.accumulate(GEN_1M_CHUNKS)]
CHUNKS = [DATA[OFFSETS[i] : OFFSETS[i + 1]] for i in range(len(GEN_1M_CHUNKS))]


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return build_hub(load_settings({}, None, {"data_dir": tmp_path / "data"}))


def _xorb(chunks: list[bytes], scheme: int = SCHEME_NONE) -> tuple[str, bytes, XorbBlock]:
    hashes = [chunk_hash(c) for c in chunks]
    digest = xorb_hash([(h, len(c)) for h, c in zip(hashes, chunks, strict=True)])
    offsets = [0, *itertools.accumulate(len(c) for c in chunks)]
    block = XorbBlock(
        digest, tuple(ChunkEntry(h, offsets[i], len(chunks[i]), 0) for i, h in enumerate(hashes)), offsets[-1]
    )
    return to_hex(digest), serialize_xorb(chunks, scheme=scheme), block


def _two_xorb_upload(scheme: int = SCHEME_NONE) -> tuple[list[tuple[str, bytes]], Shard]:
    first, second = CHUNKS[:10], CHUNKS[10:]
    x1, b1, block1 = _xorb(first, scheme)
    x2, b2, block2 = _xorb(second)
    terms = (Term(block1.hash, sum(map(len, first)), 0, 10), Term(block2.hash, sum(map(len, second)), 0, 8))
    proofs = (verification_hash([chunk_hash(c) for c in first]), verification_hash([chunk_hash(c) for c in second]))
    leaves = [(chunk_hash(c), len(c)) for c in CHUNKS]
    block = FileBlock(file_hash(leaves), terms, proofs, sha256_to_shard(hashlib.sha256(DATA).hexdigest()))
    return [(x1, b1), (x2, b2)], Shard((block,), (block1, block2))


def _count(hub: Hub, model: type) -> int:
    with hub.db() as session:
        return session.query(model).count()


@pytest.mark.parametrize("scheme", [SCHEME_NONE, SCHEME_LZ4])
def test_xet_upload_registers_a_file_that_reads_back_byte_identical(hub: Hub, scheme: int) -> None:
    xorbs, shard = _two_xorb_upload(scheme)
    assert [xet_store.store_xorb(hub, name, blob) for name, blob in xorbs] == [True, True]
    assert xet_store.store_xorb(hub, *xorbs[0]) is False
    [registered] = xet_store.register_shard(hub, serialize_shard(shard))
    name = registered.hash
    assert registered.sha256 == hashlib.sha256(DATA).hexdigest()
    assert name == "821f3082696957442edc1152ff335f9107b9195661bbd39b7805e162c1284db9"
    stored = xet_store.get_file(hub, name)
    assert stored.size == len(DATA) and stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert b"".join(xet_store.read_file(hub, stored)) == DATA
    for start, end in ((0, 1), (15_494, 15_496), (400_000, 700_000), (len(DATA) - 5, len(DATA)), (123, 123)):
        assert b"".join(xet_store.read_file(hub, stored, start, end)) == DATA[start:end], (start, end)
    assert xet_store.verify_sha256(hub, name, hashlib.sha256(DATA).hexdigest()).sha256_verified
    assert xet_store.register_shard(hub, serialize_shard(shard)) == [registered]  # idempotent
    assert _count(hub, XetFile) == 1


def test_xet_tampered_xorb_is_refused_and_nothing_stored(hub: Hub) -> None:
    (name, blob), _ = _two_xorb_upload()[0]
    tampered = bytearray(blob)
    tampered[100] ^= 1
    with pytest.raises(InvalidArgument, match="does not match"):
        xet_store.store_xorb(hub, name, bytes(tampered))
    assert _count(hub, XetXorb) == 0 and not hub.blobs.exists(hashlib.sha256(bytes(tampered)).hexdigest())


def _refused(hub: Hub, shard: Shard, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        xet_store.register_shard(hub, serialize_shard(shard))
    assert _count(hub, XetFile) == 0


def test_xet_shards_that_lie_are_refused_and_register_nothing(hub: Hub) -> None:
    xorbs, shard = _two_xorb_upload()
    _refused(hub, shard, "never uploaded")
    for name, blob in xorbs:
        xet_store.store_xorb(hub, name, blob)
    block = shard.files[0]
    wrong_proof = dataclasses.replace(block, verifications=(block.verifications[1], block.verifications[0]))
    _refused(hub, dataclasses.replace(shard, files=(wrong_proof,)), "verification hash")
    wrong_hash = dataclasses.replace(block, hash=bytes(32))
    _refused(hub, dataclasses.replace(shard, files=(wrong_hash,)), "does not match its chunks")
    out_of_range = dataclasses.replace(block, terms=(dataclasses.replace(block.terms[0], end=11), block.terms[1]))
    _refused(hub, dataclasses.replace(shard, files=(out_of_range,)), "outside xorb")
    wrong_size = dataclasses.replace(
        block, terms=(dataclasses.replace(block.terms[0], unpacked_bytes=1), block.terms[1])
    )
    _refused(hub, dataclasses.replace(shard, files=(wrong_size,)), "wrong size")
    no_proof = dataclasses.replace(block, verifications=())
    _refused(hub, dataclasses.replace(shard, files=(no_proof,)), "verification entries")
    reordered = dataclasses.replace(shard.xorbs[0], chunks=tuple(reversed(shard.xorbs[0].chunks)))
    _refused(hub, dataclasses.replace(shard, xorbs=(reordered, shard.xorbs[1])), "chunks other than")


def test_xet_false_sha256_claim_is_caught_and_does_not_block_a_true_one(hub: Hub) -> None:
    xorbs, shard = _two_xorb_upload()
    for name, blob in xorbs:
        xet_store.store_xorb(hub, name, blob)
    false, true = hashlib.sha256(b"other").hexdigest(), hashlib.sha256(DATA).hexdigest()
    liar = dataclasses.replace(shard.files[0], sha256=sha256_to_shard(false))
    [registered] = xet_store.register_shard(hub, serialize_shard(dataclasses.replace(shard, files=(liar,))))
    assert registered.sha256 == false and not xet_store.get_file(hub, registered.hash).sha256_verified
    with pytest.raises(InvalidArgument, match="claims sha256"):
        xet_store.verify_sha256(hub, registered.hash, false)
    # The same bytes registered again with their true sha256: the first claim does not stick.
    [again] = xet_store.register_shard(hub, serialize_shard(shard))
    assert again == xet_store.RegisteredFile(registered.hash, true)
    assert xet_store.verify_sha256(hub, again.hash, true).sha256 == true
    with pytest.raises(InvalidArgument, match="claims sha256"):
        xet_store.verify_sha256(hub, again.hash, false)
