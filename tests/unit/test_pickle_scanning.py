"""Upload scanning's pure parts: which files are pickle-based, what picklescan finds in each format, and
the range reader the scanner reads LFS and Xet objects through, under every way of chunking its input."""

from __future__ import annotations

import collections
import io
import os
import pickle
import random
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from csghub.services.scanning.pickles import is_pickle_based, scan_stream
from csghub.services.scanning.reading import RangeReader


class RunsCode:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("echo pwned",))


class Unknown:
    """A class of this test module: picklescan knows nothing of it."""


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=True)
    return out.getvalue()


EVIL = pickle.dumps({"w": [1.0, 2.0], "hook": RunsCode()})


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("model.pkl", EVIL),
        ("model.pickle", EVIL),
        ("legacy.bin", EVIL),
        ("ckpt.pt", _zip({"archive/data.pkl": EVIL, "archive/version": b"3\n", "archive/data/0": os.urandom(64)})),
        ("arrays.npy", _npy(np.array([RunsCode()], dtype=object))),
        ("arrays.npz", _zip({"a.npy": _npy(np.array([RunsCode()], dtype=object))})),
        ("bundle.zip", _zip({"inner/state.pkl": EVIL})),
        ("dump.joblib", EVIL),
    ],
)
def test_scan_stream_flags_os_system_as_dangerous_in_every_format(path: str, data: bytes) -> None:
    verdict = scan_stream(io.BytesIO(data), path)
    assert verdict.level == "dangerous" and verdict.error == ""
    assert verdict.dangerous is not None
    assert f"{verdict.dangerous.module}.{verdict.dangerous.name}" in ("posix.system", "os.system", "nt.system")
    assert verdict.imports[0].safety == "dangerous"  # the most dangerous first


def test_scan_stream_grades_benign_known_and_unknown_imports() -> None:
    plain = scan_stream(io.BytesIO(pickle.dumps({"layers": [[1, 2], [3]]})), "state.pkl")
    assert (plain.level, plain.imports) == ("innocuous", ())
    ordered = scan_stream(io.BytesIO(pickle.dumps(collections.OrderedDict(a=1))), "state.pkl")
    assert ordered.level == "innocuous"
    assert [(i.module, i.name, i.safety) for i in ordered.imports] == [("collections", "OrderedDict", "innocuous")]
    unknown = scan_stream(io.BytesIO(pickle.dumps(Unknown())), "state.pkl")
    assert unknown.level == "suspicious" and unknown.dangerous is None
    numbers = scan_stream(io.BytesIO(_npy(np.arange(10))), "numbers.npy")
    assert numbers.level == "innocuous"


def test_scan_stream_reports_an_unreadable_file_as_an_error_not_as_clean() -> None:
    broken = scan_stream(io.BytesIO(b"\x93NUMPY\x09\x00garbage"), "broken.npy")
    assert broken.error and broken.level == ""


def test_pickle_based_names() -> None:
    for path in ("a/pytorch_model.bin", "x.PT", "m.pth", "m.ckpt", "d.pkl", "d.pickle", "j.joblib", "a.npy", "a.npz"):
        assert is_pickle_based(path), path
    for path in ("model.safetensors", "config.json", "README.md", "pkl", "model.gguf", "data.parquet"):
        assert not is_pickle_based(path), path


def _chunked(data: bytes, start: int, size: int) -> Iterator[bytes]:
    for offset in range(start, len(data), size):
        yield data[offset : offset + size]


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_range_reader_reads_and_seeks_like_the_bytes_under_every_chunking(chunk: int) -> None:
    data = os.urandom(50_000)
    opened: list[int] = []

    def open_at(start: int) -> Iterator[bytes]:
        opened.append(start)
        return _chunked(data, start, chunk)

    reader = io.BufferedReader(RangeReader(len(data), open_at, _chunked(data, 0, chunk)), 1024)
    expected = io.BytesIO(data)
    rng = random.Random(chunk)
    for _ in range(200):
        if rng.random() < 0.3:
            where = rng.randrange(0, len(data) + 10)
            assert reader.seek(where) == expected.seek(where)
        count = rng.randrange(0, 3000)
        assert reader.read(count) == expected.read(count)
        assert reader.tell() == expected.tell()
    reader.seek(-5, io.SEEK_END)
    assert reader.read() == data[-5:]
    reader.seek(0)
    assert reader.read() == data


def test_range_reader_fetches_only_what_a_torch_zip_scan_needs() -> None:
    tensors = os.urandom(8 << 20)
    data = _zip({"archive/data.pkl": EVIL, "archive/version": b"3\n", "archive/data/0": tensors})
    served = [0]

    def open_at(start: int) -> Iterator[bytes]:
        for piece in _chunked(data, start, 64 * 1024):
            served[0] += len(piece)
            yield piece

    reader = io.BufferedReader(RangeReader(len(data), open_at, None), 64 * 1024)
    assert scan_stream(reader, "pytorch_model.bin").level == "dangerous"
    assert served[0] < len(data) // 8, served[0]  # the directory and data.pkl, not the tensors


def test_range_reader_keeps_a_storage_failure_the_scanner_swallows() -> None:
    def failing(start: int) -> Iterator[bytes]:
        yield EVIL[:10]
        raise OSError("connection reset")

    raw = RangeReader(len(EVIL), failing, None)
    scan_stream(io.BufferedReader(raw, 4), "model.pkl")
    assert isinstance(raw.failure, OSError)
