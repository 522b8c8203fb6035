"""Reconstruction plans for files that use the same, overlapping or adjacent chunks of a xorb many
times, checked against the rules hf_xet applies to an answer and by rebuilding the bytes."""

from __future__ import annotations

import itertools
import random

import pytest

from csghub.xet.reconstructions import Plan, TermSource, merge_chunk_ranges, plan_reconstruction
from csghub.xet.xorbs import HEADER_SIZE, XorbChunk


def _xorb(sizes: list[int], compressed: list[int] | None = None) -> list[XorbChunk]:
    """A chunk table: serialized lengths are header + payload, payloads may be shorter (LZ4)."""
    payloads = compressed or sizes
    offsets = [0, *itertools.accumulate(HEADER_SIZE + p for p in payloads)]
    return [XorbChunk(offsets[i], HEADER_SIZE + payloads[i], size, bytes([i]) * 32) for i, size in enumerate(sizes)]


X = _xorb([100, 200, 300, 400, 500, 600])
Y = _xorb([1000, 50, 70], compressed=[10, 50, 20])


def _content(name: str, chunks: list[XorbChunk]) -> list[bytes]:
    """Distinct bytes per chunk, so a wrong chunk shows in the rebuilt file."""
    return [bytes([(ord(name) + i * 7 + j) % 251 for j in range(c.size)]) for i, c in enumerate(chunks)]


TABLES = {"x": X, "y": Y}
DATA = {name: _content(name, chunks) for name, chunks in TABLES.items()}


def _terms(*spec: tuple[str, int, int]) -> list[TermSource]:
    return [TermSource(name, TABLES[name], start, end) for name, start, end in spec]


def _file(terms: list[TermSource]) -> bytes:
    return b"".join(b"".join(DATA[t.xorb][t.start : t.end]) for t in terms)


def _as_client(plan: Plan, start: int, end: int) -> bytes:
    """Rebuild bytes [start, end) as hf_xet 1.8.0 does: a term takes the first fetch range of its
    xorb that contains it, and fetched ranges are shared by (xorb, first chunk); a term must lie
    inside the range it ends up with."""
    blocks: dict[tuple[str, int], tuple[int, int]] = {}
    out = bytearray()
    for term in plan.terms:
        entry = next(f for f in plan.fetch[term.xorb] if f.start <= term.start and term.end <= f.end)
        block = blocks.setdefault((term.xorb, entry.start), (entry.start, entry.end))
        assert block[0] <= term.start and term.end <= block[1], "term outside the block it was given"
        data = b"".join(DATA[term.xorb][term.start : term.end])
        assert len(data) == term.unpacked_length
        out += data
    skip = plan.offset_into_first_range
    return bytes(out[skip : skip + end - start])


def _check_shape(plan: Plan) -> None:
    for xorb, ranges in plan.fetch.items():
        table = TABLES[xorb]
        assert list(ranges) == sorted(ranges, key=lambda f: f.start)
        for a, b in itertools.pairwise(ranges):
            assert a.end < b.start, "ranges of one xorb overlap or touch"
            assert a.byte_end < b.byte_start
        for f in ranges:
            assert f.byte_start == table[f.start].offset
            assert f.byte_end == table[f.end - 1].offset + table[f.end - 1].length - 1
    for term in plan.terms:
        holders = [f for f in plan.fetch[term.xorb] if f.start <= term.start and term.end <= f.end]
        assert len(holders) == 1


@pytest.mark.parametrize(
    ("ranges", "merged"),
    [
        ([], []),
        ([(2, 5)], [(2, 5)]),
        ([(0, 2), (4, 6)], [(0, 2), (4, 6)]),  # a gap stays a gap
        ([(0, 3), (3, 5)], [(0, 5)]),  # touching
        ([(0, 3), (1, 4)], [(0, 4)]),  # overlapping
        ([(0, 5), (1, 3)], [(0, 5)]),  # contained
        ([(1, 3), (0, 5)], [(0, 5)]),  # containing, later
        ([(2, 5), (2, 5), (2, 5)], [(2, 5)]),  # the same range again and again
        ([(0, 1), (0, 4), (1, 3)], [(0, 4)]),  # what hf_xet 1.8.0 choked on
        ([(0, 2), (1, 4), (3, 6)], [(0, 6)]),  # a chain
        ([(7, 10), (0, 3), (6, 8), (2, 4)], [(0, 4), (6, 10)]),  # unsorted, two groups
        ([(5, 6), (4, 5), (3, 4)], [(3, 6)]),  # adjacent singles, backwards
    ],
)
def test_merge_chunk_ranges_overlapping_adjacent_and_repeated(
    ranges: list[tuple[int, int]], merged: list[tuple[int, int]]
) -> None:
    assert merge_chunk_ranges(ranges) == merged


SHAPES = {
    "zeros": [("x", 2, 3)] * 6,
    "same-range": [("x", 1, 4), ("x", 1, 4), ("x", 1, 4)],
    "first-chunk-then-all": [("x", 0, 1), ("y", 0, 1), ("x", 0, 5), ("y", 1, 3), ("x", 1, 4)],
    "overlapping": [("x", 0, 3), ("x", 1, 4), ("x", 3, 6)],
    "adjacent": [("x", 0, 2), ("x", 2, 4), ("x", 4, 6)],
    "contained": [("x", 0, 6), ("x", 2, 3), ("x", 1, 5)],
    "backwards": [("x", 4, 6), ("x", 2, 4), ("x", 0, 2)],
    "two-xorbs-interleaved": [("y", 0, 2), ("x", 3, 5), ("y", 1, 3), ("x", 0, 4), ("y", 0, 1)],
    "gap": [("x", 0, 1), ("x", 4, 6), ("x", 0, 1)],
    "single": [("y", 1, 2)],
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_plan_whole_file_is_well_formed_and_rebuilds_it(shape: str) -> None:
    terms = _terms(*SHAPES[shape])
    data = _file(terms)
    plan = plan_reconstruction(terms, 0, len(data))
    _check_shape(plan)
    assert [(t.xorb, t.start, t.end) for t in plan.terms] == SHAPES[shape]
    assert plan.offset_into_first_range == 0
    assert _as_client(plan, 0, len(data)) == data


def _edges(terms: list[TermSource]) -> list[int]:
    """Chunk boundaries of the file, one byte either side of each, and both ends."""
    bounds = list(itertools.accumulate(c.size for t in terms for c in t.chunks[t.start : t.end]))
    total = bounds[-1]
    return sorted({0, 1, *(b + d for b in bounds for d in (-1, 0, 1) if 0 <= b + d <= total)})


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_plan_every_byte_range_rebuilds_its_bytes(shape: str) -> None:
    terms = _terms(*SHAPES[shape])
    data = _file(terms)
    edges = _edges(terms)
    for start, end in itertools.combinations(edges, 2):
        plan = plan_reconstruction(terms, start, end)
        _check_shape(plan)
        assert _as_client(plan, start, end) == data[start:end], (start, end)


def test_plan_random_layouts_rebuild_random_ranges() -> None:
    rng = random.Random(3)
    for _ in range(300):
        spec = []
        for _ in range(rng.randint(1, 12)):
            name = rng.choice("xy")
            start = rng.randrange(len(TABLES[name]))
            spec.append((name, start, rng.randint(start + 1, len(TABLES[name]))))
        terms = _terms(*spec)
        data = _file(terms)
        start = rng.randrange(len(data))
        end = rng.randint(start + 1, len(data))
        plan = plan_reconstruction(terms, start, end)
        _check_shape(plan)
        assert _as_client(plan, start, end) == data[start:end], (spec, start, end)


def test_plan_trims_terms_to_the_chunks_the_range_touches() -> None:
    terms = _terms(("x", 0, 3), ("x", 0, 3), ("x", 2, 6))  # sizes 100 200 300 | 100 200 300 | 300 ...
    inside = plan_reconstruction(terms, 720, 750)  # inside the second term's chunk 1 (700..900)
    assert [(t.start, t.end, t.unpacked_length) for t in inside.terms] == [(1, 2, 200)]
    assert inside.offset_into_first_range == 20
    assert [(f.start, f.end) for f in inside.fetch["x"]] == [(1, 2)]
    at_boundary = plan_reconstruction(terms, 600, 1200)  # exactly the second term, then no more
    assert [(t.start, t.end) for t in at_boundary.terms] == [(0, 3)]
    assert at_boundary.offset_into_first_range == 0
    spanning = plan_reconstruction(terms, 599, 1201)  # last byte of the first, first byte of the third
    assert [(t.start, t.end) for t in spanning.terms] == [(2, 3), (0, 3), (2, 3)]
    assert spanning.offset_into_first_range == 299
    assert [(f.start, f.end) for f in spanning.fetch["x"]] == [(0, 3)]


def test_plan_of_an_empty_file_has_nothing_to_fetch() -> None:
    plan = plan_reconstruction([], 0, 0)
    assert plan.terms == () and dict(plan.fetch) == {} and plan.offset_into_first_range == 0
