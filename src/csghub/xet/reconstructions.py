"""Reconstruction plans (§9.1, §9.2): which chunks of which xorbs rebuild a byte range of a file, and
which xorb byte ranges a client must fetch for them.

Files with repeated content name the same chunks many times (a run of zeros is one chunk in six
terms; a tied layer is an earlier term again), so several terms may use the same, overlapping or
adjacent chunk ranges of one xorb. hf_xet keys each fetch range by its xorb and first chunk and
expects every term to lie inside exactly one of them, so the fetch ranges of a xorb are the union of
its terms' chunk ranges: sorted, overlapping and touching ranges merged, each listed once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from csghub.xet.xorbs import XorbChunk


@dataclass(frozen=True, slots=True)
class TermSource:
    """One term of a stored file: chunks [start, end) of a xorb, with the xorb's chunk table."""

    xorb: str
    chunks: Sequence[XorbChunk]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class PlannedTerm:
    xorb: str
    start: int  # chunk index, inclusive
    end: int  # chunk index, exclusive
    unpacked_length: int


@dataclass(frozen=True, slots=True)
class FetchRange:
    start: int  # chunk index, inclusive
    end: int  # chunk index, exclusive
    byte_start: int  # serialized offset of the first chunk's header
    byte_end: int  # last serialized byte of the last chunk, inclusive (as in an HTTP Range)


@dataclass(frozen=True, slots=True)
class Plan:
    offset_into_first_range: int
    terms: tuple[PlannedTerm, ...]
    fetch: Mapping[str, tuple[FetchRange, ...]]


def merge_chunk_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of half-open chunk ranges as sorted, disjoint, non-touching ranges."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def plan_reconstruction(terms: Sequence[TermSource], start: int, end: int) -> Plan:
    """The terms that cover file bytes [start, end), trimmed to the chunks overlapping it, and the
    merged xorb ranges to fetch for them. The client cuts the last chunk at `end` itself."""
    planned: list[PlannedTerm] = []
    wanted: dict[str, list[tuple[int, int]]] = {}
    tables: dict[str, Sequence[XorbChunk]] = {}
    first_offset = 0
    position = 0
    for term in terms:
        if position >= end:
            break
        lo = hi = -1
        unpacked = 0
        for index in range(term.start, term.end):
            size = term.chunks[index].size
            if position < end and position + size > start:
                if lo < 0:
                    lo = index
                    if not planned:
                        first_offset = start - position
                hi = index + 1
                unpacked += size
            position += size
        if lo < 0:
            continue
        planned.append(PlannedTerm(term.xorb, lo, hi, unpacked))
        wanted.setdefault(term.xorb, []).append((lo, hi))
        tables[term.xorb] = term.chunks
    fetch = {
        xorb: tuple(_fetch_range(tables[xorb], lo, hi) for lo, hi in merge_chunk_ranges(ranges))
        for xorb, ranges in wanted.items()
    }
    return Plan(first_offset, tuple(planned), fetch)


def _fetch_range(chunks: Sequence[XorbChunk], start: int, end: int) -> FetchRange:
    last = chunks[end - 1]
    return FetchRange(start, end, chunks[start].offset, last.offset + last.length - 1)
