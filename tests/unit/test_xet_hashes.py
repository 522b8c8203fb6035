"""Xet hash construction against the test vectors of shared/research/xet-protocol.md §13."""

from __future__ import annotations

import hashlib

from csghub.xet.hashes import chunk_hash, file_hash, from_hex, merkle_root, to_hex, verification_hash

GEN_1M_CHUNKS = [
    15495,
    82104,
    50556,
    55540,
    34273,
    28823,
    97633,
    30202,
    26568,
    86955,
    75209,
    81714,
    14339,
    131013,
    58655,
    10126,
    30276,
    90519,
]


def gen(n: int) -> bytes:
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(i.to_bytes(8, "little")).digest()
        i += 1
    return bytes(out[:n])


def _leaves(data: bytes, lengths: list[int]) -> list[tuple[bytes, int]]:
    leaves, pos = [], 0
    for length in lengths:
        leaves.append((chunk_hash(data[pos : pos + length]), length))
        pos += length
    assert pos == len(data)
    return leaves


def test_hash_string_form_reverses_each_word() -> None:
    raw = bytes(range(32))
    assert to_hex(raw) == "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918"
    assert from_hex(to_hex(raw)) == raw


def test_empty_file_hash_is_zero() -> None:
    assert to_hex(file_hash([])) == "0" * 64


def test_single_chunk_hashes() -> None:
    data = b"hello world\n"
    leaf = (chunk_hash(data), len(data))
    assert to_hex(leaf[0]) == "6899563fa6b6abb19b8ecdd9f662a6c9acfca9fd4ff9f513086ec6c5685193ab"
    assert merkle_root([leaf]) == leaf[0]
    assert to_hex(file_hash([leaf])) == "a302d931b8763df0bfb9926b9ff26b11c2a77d5be8dde4ce1c8bb7202a6a8681"
    assert to_hex(file_hash([(chunk_hash(b"a"), 1)])) == (
        "49a7fffaf5f34109d4a191757f3e541e26437dcd1e0e83153454a503757856be"
    )


def test_two_leaf_node() -> None:
    leaves = [(chunk_hash(b"a"), 1), (chunk_hash(b"b"), 1)]
    assert to_hex(leaves[0][0]) == "a4d4ed80fcb2fe5177fc59321d3e6f90faf23e35a48d58303114bf073f34178a"
    assert to_hex(leaves[1][0]) == "dc7f2a01b2dd4f9dace2cfd1abe783374824882171e4b33dc406132de41df994"
    assert to_hex(merkle_root(leaves)) == "ded050f282247a53bae90e1cfabaa3925af9a6bad275c69ae5c5182d09055ba2"


def test_zeros_file_hash() -> None:
    data = bytes(1_000_000)
    leaves = _leaves(data, [131072] * 7 + [82496])
    assert to_hex(file_hash(leaves)) == "c0c85185f4307d40facfd366573176e54fc9c76041e44e32d52489780a6d1eaa"


def test_gen_1m_xorb_file_and_verification_hashes() -> None:
    data = gen(1_000_000)
    assert hashlib.sha256(data).hexdigest() == "1248ea53851f6898fb1832987c650d9563270577c7f4e47ce67e32f27ee99887"
    leaves = _leaves(data, GEN_1M_CHUNKS)
    assert to_hex(leaves[0][0]) == "e28257ab3dd46c25b9d93e81f6826fd1a5d90b3dfdc511c3ca3686cb539d6d40"
    assert to_hex(leaves[-1][0]) == "7efacfb8bd5f3f2a1c31370410e68e3d19c1d805a5f9b21a13547e45266ce7ef"
    assert to_hex(merkle_root(leaves)) == "01e9ddefaa73d6201b697240073d4e690f3fee44949c65082a75a2b838914d1f"
    assert to_hex(file_hash(leaves)) == "821f3082696957442edc1152ff335f9107b9195661bbd39b7805e162c1284db9"
    hashes = [h for h, _ in leaves]
    assert to_hex(verification_hash(hashes)) == "0ba722a80192f38b79a144f24be86264bfdcbfbd81f5556e82ac265ba994a2f6"
    assert to_hex(verification_hash(hashes[1:3])) == (
        "2964feda3b71ca1bc05edc5434baeca772a9738d971d3c7bd713dafba166a292"
    )
