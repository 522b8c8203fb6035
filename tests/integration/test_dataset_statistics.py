"""Column statistics over generated Parquet shards, in HF dataset-viewer's /statistics shape."""

from __future__ import annotations

import math
import statistics as pystats
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from csghub.services.datasets.errors import QueryTimeout
from csghub.services.datasets.statistics import StatisticsLimits, compute_statistics

N = 100


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("stats")
    table = pa.table(
        {
            "n": [None if i == 0 else i for i in range(N)],  # 1..99 and one null
            "x": [math.nan if i == 1 else i / 4 for i in range(N)],
            "flag": [None if i == 2 else i % 3 == 0 for i in range(N)],
            "label": ["cat" if i % 4 == 0 else "dog" if i % 4 else None for i in range(N)],
            "text": [f"sentence number {i} " + "w" * i for i in range(N)],
            "tags": [list(range(i % 5)) for i in range(N)],
            "blob": [b"x"] * N,
        }
    )
    pq.write_table(table.slice(0, 60), folder / "0000.parquet")
    pq.write_table(table.slice(60), folder / "0001.parquet")
    return [folder / "0000.parquet", folder / "0001.parquet"]


def _by_name(body: dict[str, object]) -> dict[str, dict[str, object]]:
    return {c["column_name"]: c for c in body["statistics"]}  # type: ignore[attr-defined]


def test_statistics_shape_and_columns(shards: list[Path]) -> None:
    body = compute_statistics(shards)
    assert body["num_examples"] == N and body["partial"] is False
    columns = _by_name(body)
    assert {k: v["column_type"] for k, v in columns.items()} == {
        "n": "int",
        "x": "float",
        "flag": "bool",
        "label": "string_label",
        "text": "string_text",
        "tags": "list",
    }  # binary has no statistics, as on HF


def test_integer_statistics(shards: list[Path]) -> None:
    stats = _by_name(compute_statistics(shards))["n"]["column_statistics"]
    values = list(range(1, N))
    assert stats["nan_count"] == 1 and stats["nan_proportion"] == 0.01
    assert (stats["min"], stats["max"]) == (1, 99)
    assert stats["mean"] == round(pystats.mean(values), 5) and stats["median"] == 50.0
    assert stats["std"] == round(pystats.stdev(values), 5)
    assert stats["histogram"] == {
        "hist": [10, 10, 10, 10, 10, 10, 10, 10, 10, 9],
        "bin_edges": [1, 11, 21, 31, 41, 51, 61, 71, 81, 91, 99],
    }


def test_float_statistics_count_nan_as_missing(shards: list[Path]) -> None:
    stats = _by_name(compute_statistics(shards))["x"]["column_statistics"]
    values = [i / 4 for i in range(N) if i != 1]
    assert stats["nan_count"] == 1 and (stats["min"], stats["max"]) == (0.0, 24.75)
    assert stats["mean"] == round(pystats.mean(values), 5)
    assert stats["histogram"]["bin_edges"][0] == 0.0 and stats["histogram"]["bin_edges"][-1] == 24.75
    assert len(stats["histogram"]["hist"]) == 10 and sum(stats["histogram"]["hist"]) == N - 1


def test_bool_label_text_and_list_statistics(shards: list[Path]) -> None:
    columns = _by_name(compute_statistics(shards))
    flag = columns["flag"]["column_statistics"]
    trues = sum(1 for i in range(N) if i != 2 and i % 3 == 0)
    assert flag == {"nan_count": 1, "nan_proportion": 0.01, "frequencies": {"False": N - 1 - trues, "True": trues}}
    label = columns["label"]["column_statistics"]
    assert label["n_unique"] == 2 and label["frequencies"] == {"dog": 75, "cat": 25} and label["nan_count"] == 0
    text = columns["text"]["column_statistics"]
    lengths = [len(f"sentence number {i} ") + i for i in range(N)]
    assert (text["min"], text["max"]) == (min(lengths), max(lengths)) and text["nan_count"] == 0
    assert sum(text["histogram"]["hist"]) == N
    tags = columns["tags"]["column_statistics"]
    assert (tags["min"], tags["max"], tags["mean"]) == (0, 4, 2.0)
    assert tags["histogram"] == {"hist": [20, 20, 20, 20, 20], "bin_edges": [0, 1, 2, 3, 4, 4]}


def test_statistics_time_limit(shards: list[Path]) -> None:
    with pytest.raises(QueryTimeout):
        compute_statistics(shards * 200, StatisticsLimits(timeout_s=0.001))
