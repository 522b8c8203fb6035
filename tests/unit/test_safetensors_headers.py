"""A safetensors file's parameter count and dtypes from its header alone, over the shapes files come in:
several dtypes, an empty file, truncated or corrupt headers (a clean "unreadable"), a header over the
bound (refused after reading 8 bytes), and the formatting the pages use."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from csghub.services.repositories.tensors import MAX_HEADER, TOO_LARGE, UNREADABLE, TensorSummary, parse_header
from csghub.web.file_panels import downloads_chart, format_count
from tests.support.safetensors_files import safetensors_bytes, with_header


def _one(dtype: object, shape: object, offsets: list[int], data: int) -> bytes:
    """A file of one tensor described as given (however wrong), followed by `data` zero bytes."""
    return with_header(
        json.dumps({"a": {"dtype": dtype, "shape": shape, "data_offsets": offsets}}).encode(), bytes(data)
    )


def _reader(data: bytes, reads: list[tuple[int, int]]) -> Callable[[int, int], bytes]:
    def read(start: int, end: int) -> bytes:
        reads.append((start, end))
        return data[start:end]

    return read


def _parse(data: bytes, max_header: int = MAX_HEADER) -> tuple[TensorSummary, list[tuple[int, int]]]:
    reads: list[tuple[int, int]] = []
    return parse_header(_reader(data, reads), len(data), max_header), reads


def test_parse_header_counts_parameters_per_dtype_reading_only_the_header() -> None:
    data = safetensors_bytes(
        {
            "embed.weight": ("BF16", [10, 8]),
            "head.weight": ("BF16", [8, 4]),
            "norm.scale": ("F32", [8]),
            "positions": ("I64", [3]),
            "mask": ("BOOL", [2, 2]),
        },
        metadata={"format": "pt"},
    )
    summary, reads = _parse(data)
    assert summary.ok and summary.tensors == 5
    assert summary.parameters == 80 + 32 + 8 + 3 + 4
    assert summary.dtypes == (("BF16", 112), ("F32", 8), ("BOOL", 4), ("I64", 3))
    length = int.from_bytes(data[:8], "little")
    assert reads == [(0, 8), (8, 8 + length)], "the tensors' bytes are never read"


def test_parse_header_of_a_file_without_tensors_is_zero_parameters() -> None:
    summary, _ = _parse(safetensors_bytes({}))
    assert (summary.state, summary.parameters, summary.dtypes) == ("ok", 0, ())


def test_parse_header_of_a_scalar_and_an_empty_tensor() -> None:
    summary, _ = _parse(safetensors_bytes({"scale": ("F32", []), "nothing": ("F16", [0, 4])}))
    assert summary.ok and summary.parameters == 1 and summary.dtypes == (("F32", 1), ("F16", 0))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty file", b""),
        ("shorter than its length field", b"\x10\x00\x00"),
        ("header cut short", with_header(b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}')[:30]),
        ("length beyond the file", with_header(b"{}", claimed=4096)),
        ("not JSON", with_header(b"{not json at all}")),
        ("not UTF-8", with_header(b'{"\xff\xfe": 1}')),
        ("a JSON list", with_header(b"[1, 2, 3]")),
        ("a tensor that is not an object", with_header(b'{"a": 7}')),
        ("a negative dimension", _one("F32", [-1], [0, 4], 4)),
        ("a dimension that is not a number", _one("F32", ["2"], [0, 8], 8)),
        ("bytes that do not fit the shape", _one("F32", [4], [0, 8], 8)),
        ("data past the end of the file", _one("U8", [64], [0, 64], 8)),
        ("a dtype that is not a string", _one(7, [1], [0, 4], 4)),
        ("reversed offsets", _one("U8", [0], [4, 0], 4)),
        ("a nested bomb", with_header(b"[" * 100_000 + b"]" * 100_000)),
    ],
)  # fmt: skip
def test_parse_header_of_a_broken_file_is_unreadable(name: str, data: bytes) -> None:
    summary, _ = _parse(data)
    assert summary.state == UNREADABLE, name
    assert summary.parameters == 0 and summary.dtypes == ()


def test_parse_header_bigger_than_the_bound_is_refused_after_eight_bytes() -> None:
    data = safetensors_bytes({"w": ("F32", [300])})
    summary, reads = _parse(data, max_header=16)
    assert summary.state == TOO_LARGE and summary.header_size > 16
    assert reads == [(0, 8)]
    # The real bound: a length field claiming 25 MB and one byte more, in a file that size (never read).
    assert MAX_HEADER == 25_000_000
    huge = MAX_HEADER + 1
    reads = []
    summary = parse_header(_reader(with_header(b"{}", claimed=huge), reads), 8 + huge)
    assert (summary.state, reads) == (TOO_LARGE, [(0, 8)])


def test_a_dtype_the_hub_does_not_know_is_counted_without_the_size_check() -> None:
    header = {"q": {"dtype": "F4", "shape": [16], "data_offsets": [0, 8]}}
    summary, _ = _parse(with_header(json.dumps(header).encode(), bytes(8)))
    assert summary.ok and summary.dtypes == (("F4", 16),)


@pytest.mark.parametrize(
    ("number", "said"),
    [(0, "0"), (999, "999"), (7_000, "7K"), (124_439_808, "124M"), (1_235_814_400, "1.24B"), (3 * 10**12, "3T")],
)
def test_format_count_says_parameters_as_people_do(number: int, said: str) -> None:
    assert format_count(number) == said


def test_downloads_chart_draws_one_titled_bar_per_day_scaled_to_the_busiest() -> None:
    first = date(2026, 11, 1)
    days = [(first + timedelta(days=i), count) for i, count in enumerate([0] * 28 + [5, 10])]
    svg = str(downloads_chart(days))
    assert svg.startswith("<svg") and svg.count('<rect class="bar"') == 30
    assert "<title>2026-11-30: 10</title>" in svg and "<title>2026-11-01: 0</title>" in svg
    assert 'y="2.0" width="8.0" height="58.0"' in svg, "the busiest day fills the chart"
    assert 'height="29.0"' in svg, "half the downloads, half the height"
    assert "style=" not in svg, "no inline styles: the page's CSP forbids them"
