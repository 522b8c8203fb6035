"""Pages of rows from Parquet shards: paging through 2 million rows, search, filters, ordering, JSON cells."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from csghub.core.errors import InvalidArgument
from csghub.services.datasets.cells import CellLimits
from csghub.services.datasets.errors import QueryTimeout
from csghub.services.datasets.rows import Filter, Order, QueryLimits, SplitReader, query_rows

TOTAL = 2_000_000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> SplitReader:
    """2 million rows in two shards (1.2M + 0.8M), row groups of 32768 rows as the conversion writes them."""
    folder = tmp_path_factory.mktemp("big")
    ids = pa.array(range(TOTAL), type=pa.int64())
    text = pc.binary_join_element_wise("Row ", pc.cast(ids, pa.string()), " of the Big split", "")
    table = pa.table({"id": ids, "text": text, "even": pc.equal(pc.bit_wise_and(ids, 1), 0)})
    pq.write_table(table.slice(0, 1_200_000), folder / "0000.parquet", row_group_size=32_768)
    pq.write_table(table.slice(1_200_000), folder / "0001.parquet", row_group_size=32_768)
    return SplitReader([folder / "0000.parquet", folder / "0001.parquet"])


def test_first_page(big: SplitReader) -> None:
    body = big.read(0, 100).to_json()
    assert body["num_rows_total"] == TOTAL and body["num_rows_per_page"] == 100 and body["partial"] is False
    assert [f["name"] for f in body["features"]] == ["id", "text", "even"]
    assert body["features"][0]["type"] == {"dtype": "int64", "_type": "Value"}
    assert body["rows"][0] == {
        "row_idx": 0,
        "row": {"id": 0, "text": "Row 0 of the Big split", "even": True},
        "truncated_cells": [],
    }
    assert [r["row_idx"] for r in body["rows"]] == list(range(100))


def test_page_at_one_million_and_across_shards(big: SplitReader) -> None:
    page = big.read(1_000_000, 100)
    assert [r["row"]["id"] for r in page.rows] == list(range(1_000_000, 1_000_100))
    across = big.read(1_199_950, 100)
    assert [r["row_idx"] for r in across.rows] == [r["row"]["id"] for r in across.rows]
    assert [r["row"]["id"] for r in across.rows] == list(range(1_199_950, 1_200_050))


def test_last_page_is_short_and_past_the_end_is_empty(big: SplitReader) -> None:
    assert [r["row_idx"] for r in big.read(TOTAL - 3, 100).rows] == [TOTAL - 3, TOTAL - 2, TOTAL - 1]
    past = big.read(TOTAL + 10, 100)
    assert past.rows == [] and past.num_rows_total == TOTAL


@pytest.mark.parametrize(("offset", "length"), [(-1, 10), (0, 0), (0, 101)])
def test_bad_page_bounds_are_invalid_argument(big: SplitReader, offset: int, length: int) -> None:
    with pytest.raises(InvalidArgument) as caught:
        big.read(offset, length)
    assert caught.value.status == 400
    with pytest.raises(InvalidArgument):
        query_rows(big, offset, length, search="row")


def test_search_is_case_insensitive_and_keeps_row_idx(big: SplitReader) -> None:
    page = query_rows(big, 0, 10, search="ROW 1999999 OF")
    assert page.num_rows_total == 1
    assert page.rows == [
        {
            "row_idx": 1_999_999,
            "row": {"id": 1_999_999, "text": "Row 1999999 of the Big split", "even": False},
            "truncated_cells": [],
        }
    ]


def test_filters_and_order(big: SplitReader) -> None:
    page = query_rows(
        big,
        2,
        3,
        filters=[Filter("id", "ge", 1_500_000), Filter("id", "lt", 1_500_010), Filter("even", "eq", True)],
        order=[Order("id", descending=True)],
    )
    assert page.num_rows_total == 5
    assert [r["row_idx"] for r in page.rows] == [1_500_004, 1_500_002, 1_500_000]
    listed = query_rows(big, 0, 10, filters=[Filter("id", "in", [5, 1_700_000, 3])], order=[Order("id")])
    assert [r["row"]["id"] for r in listed.rows] == [3, 5, 1_700_000]
    text = query_rows(big, 0, 5, filters=[Filter("text", "starts_with", "row 12345 ")])
    assert [r["row_idx"] for r in text.rows] == [12345]
    contains = query_rows(big, 0, 5, filters=[Filter("text", "contains", "w 77777 o"), Filter("id", "ne", 1)])
    assert [r["row_idx"] for r in contains.rows] == [77777]
    nulls = query_rows(big, 0, 5, filters=[Filter("text", "is_null")])
    assert nulls.num_rows_total == 0 and nulls.rows == []


def test_values_are_parameters_not_sql(big: SplitReader) -> None:
    page = query_rows(big, 0, 5, filters=[Filter("text", "eq", "x' OR '1'='1")], search="'; DROP TABLE x; --")
    assert page.num_rows_total == 0 and page.rows == []


@pytest.mark.parametrize(
    ("filters", "order", "message"),
    [
        ([Filter("nope", "eq", 1)], [], "Unknown column"),
        ([Filter('id" OR 1=1 --', "eq", 1)], [], "Unknown column"),
        ([Filter("id", "like", 1)], [], "Unknown operator"),
        ([Filter("id", "eq", "1; DROP")], [], "does not fit"),
        ([Filter("even", "eq", 1)], [], "does not fit"),
        ([Filter("id", "contains", "1")], [], "text column"),
        ([Filter("id", "in", [])], [], "list of 1"),
        ([], [Order("missing")], "Unknown column"),
    ],
)
def test_bad_filters_are_invalid_argument(
    big: SplitReader, filters: list[Filter], order: list[Order], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message) as caught:
        query_rows(big, 0, 10, filters=filters, order=order)
    assert caught.value.status == 400


def test_overlong_search_is_refused(big: SplitReader) -> None:
    with pytest.raises(InvalidArgument, match="longer than"):
        query_rows(big, 0, 10, search="x" * 201)


def test_slow_query_is_cut_off(big: SplitReader) -> None:
    with pytest.raises(QueryTimeout) as caught:
        query_rows(big, 0, 10, search="nothing like this", order=[Order("text")], limits=QueryLimits(timeout_s=0.001))
    assert caught.value.status == 408


def test_cells_are_json_ready(tmp_path: Path) -> None:
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table(
        {
            "long": ["a" * 50, "short"],
            "blob": pa.array([b"\x00\x01\x02", None], type=pa.binary()),
            "image": pa.array([{"bytes": b"PNG...", "path": "cat.png"}, None], type=image),
            "score": [math.nan, 1.5],
            "when": pa.array([dt.datetime(2024, 5, 1, 12, 30), None], type=pa.timestamp("us")),
            "tags": [["x", "y"], []],
            "meta": [{"k": 1, "note": "b" * 50}, {"k": 2, "note": "ok"}],
        }
    )
    pq.write_table(table, tmp_path / "0000.parquet")
    page = SplitReader([tmp_path / "0000.parquet"]).read(0, 2, CellLimits(max_string_chars=10))
    first, second = page.rows
    assert first["row"] == {
        "long": "a" * 10,
        "blob": "<binary data: 3 bytes>",
        "image": {"path": "cat.png", "bytes": "<binary data: 6 bytes>"},
        "score": None,
        "when": "2024-05-01T12:30:00",
        "tags": ["x", "y"],
        "meta": {"k": 1, "note": "b" * 10},
    }
    assert first["truncated_cells"] == ["long", "meta"]
    assert second["truncated_cells"] == [] and second["row"]["long"] == "short" and second["row"]["image"] is None
    types = {f["name"]: f["type"] for f in page.to_json()["features"]}
    assert types["image"] == {"_type": "Image"}
    assert types["tags"] == {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"}
    assert types["when"] == {"dtype": "timestamp[us]", "_type": "Value"}
    assert types["meta"] == {"k": {"dtype": "int64", "_type": "Value"}, "note": {"dtype": "string", "_type": "Value"}}
    assert types["score"] == {"dtype": "float64", "_type": "Value"}


def test_column_named_like_duckdb_row_number_is_refused_not_misnumbered(tmp_path: Path) -> None:
    pq.write_table(pa.table({"file_row_number": [7, 8], "x": ["a", "b"]}), tmp_path / "0000.parquet")
    reader = SplitReader([tmp_path / "0000.parquet"])
    assert [r["row"] for r in reader.read(0, 2).rows] == [
        {"file_row_number": 7, "x": "a"},
        {"file_row_number": 8, "x": "b"},
    ]
    with pytest.raises(InvalidArgument, match="file_row_number"):
        query_rows(reader, 0, 2, search="a")


def test_take_returns_rows_in_the_order_asked(big: SplitReader) -> None:
    table = big.take([1_999_999, 5, 1_200_000, 5, 1_199_999])
    assert table.column("id").to_pylist() == [1_999_999, 5, 1_200_000, 5, 1_199_999]
    assert big.take([]).num_rows == 0
    with pytest.raises(InvalidArgument):
        big.take([TOTAL])


def test_search_treats_like_wildcards_as_text(tmp_path: Path) -> None:
    pq.write_table(pa.table({"t": ["100% sure", "1000 sure", "a_b", "axb", "back\\slash"]}), tmp_path / "0000.parquet")
    reader = SplitReader([tmp_path / "0000.parquet"])
    assert [r["row_idx"] for r in query_rows(reader, 0, 10, search="0% S").rows] == [0]
    assert [r["row_idx"] for r in query_rows(reader, 0, 10, search="A_B").rows] == [2]
    assert [r["row_idx"] for r in query_rows(reader, 0, 10, search="k\\s").rows] == [4]


def test_query_without_conditions_pages_like_read(big: SplitReader) -> None:
    assert query_rows(big, 1_000_000, 3).rows == big.read(1_000_000, 3).rows
    assert [r["row_idx"] for r in query_rows(big, 1_000_000, 3).rows] == [1_000_000, 1_000_001, 1_000_002]
