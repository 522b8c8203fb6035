"""Xet hashes (§6.1-6.5): chunk hashes, the merkle root of xorbs and files, verification hashes."""

from __future__ import annotations

from collections.abc import Sequence

from blake3 import blake3

from csghub.core.errors import InvalidArgument

DATA_KEY = bytes.fromhex("6697f5775b9550de3135cbaca597181c9de421109beb2b58b4d0b04b93adf229")
INTERNAL_NODE_KEY = bytes.fromhex("017ec5c7a5472996fd946666b48a02e65ddd536f37c76dd2f86352e64a53713f")
VERIFICATION_KEY = bytes.fromhex("7f1857d6ce56ed66127ff913e7a5c3f3a4cd26d5b5db49e64124987f28fb94c3")
ZERO_HASH = bytes(32)

Leaf = tuple[bytes, int]  # (raw 32-byte hash, size in bytes)


def to_hex(raw: bytes) -> str:
    """The string form: four little-endian u64 words, each as 16 hex digits."""
    return "".join(raw[i : i + 8][::-1].hex() for i in range(0, 32, 8))


def from_hex(text: str) -> bytes:
    if len(text) != 64:
        raise InvalidArgument(f"Invalid Xet hash '{text}': expected 64 hex digits")
    try:
        return b"".join(bytes.fromhex(text[i : i + 16])[::-1] for i in range(0, 64, 16))
    except ValueError:
        raise InvalidArgument(f"Invalid Xet hash '{text}': expected 64 hex digits") from None


def word3(raw: bytes) -> int:
    return int.from_bytes(raw[24:32], "little")


def chunk_hash(data: bytes) -> bytes:
    return blake3(data, key=DATA_KEY).digest()


def _node_hash(group: Sequence[Leaf]) -> Leaf:
    text = "".join(f"{to_hex(h)} : {size}\n" for h, size in group)
    return blake3(text.encode(), key=INTERNAL_NODE_KEY).digest(), sum(size for _, size in group)


def _group_end(level: Sequence[Leaf], start: int) -> int:
    """Where the group beginning at `start` ends (exclusive): variable fan-out of 3 to 9 (§6.4)."""
    remaining = len(level) - start
    if remaining <= 2:
        return len(level)
    limit = min(9, remaining)
    for offset in range(2, limit):
        if word3(level[start + offset][0]) % 4 == 0:
            return start + offset + 1
    return start + limit


def merkle_root(leaves: Sequence[Leaf]) -> bytes:
    if not leaves:
        return ZERO_HASH
    level = list(leaves)
    while len(level) > 1:
        parents: list[Leaf] = []
        start = 0
        while start < len(level):
            end = _group_end(level, start)
            parents.append(_node_hash(level[start:end]))
            start = end
        level = parents
    return level[0][0]


def xorb_hash(chunks: Sequence[Leaf]) -> bytes:
    return merkle_root(chunks)


def file_hash(chunks: Sequence[Leaf]) -> bytes:
    """The file hash over all chunks of a file, in file order; all zeros for an empty file."""
    if not chunks:
        return ZERO_HASH
    return blake3(merkle_root(chunks), key=ZERO_HASH).digest()


def verification_hash(chunk_hashes: Sequence[bytes]) -> bytes:
    """Proof that an uploader knows the chunk hashes of a term (§6.5)."""
    return blake3(b"".join(chunk_hashes), key=VERIFICATION_KEY).digest()


def sha256_from_shard(raw: bytes) -> str:
    """The sha256 hex a shard stores word-reversed in FileMetadataExt (§7.3)."""
    return to_hex(raw)


def sha256_to_shard(hexdigest: str) -> bytes:
    return from_hex(hexdigest)
