"""The SQL console: reads over a dataset's splits work; every way out of the sandbox is refused or cut off."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from csghub.core.errors import HubError, InvalidArgument
from csghub.services.datasets.errors import QueryRefused, QueryTimeout, QueryTooLarge
from csghub.services.datasets.sql_console import ConsoleLimits, SplitTable, export_query, run_query, table_names


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[SplitTable], Path]:
    """Two configs (two splits, one split) and, beside them, another dataset's shard the console must not read."""
    root = tmp_path_factory.mktemp("console")
    (root / "ours").mkdir()
    train = pa.table({"id": list(range(3000)), "label": ["pos" if i % 3 else "neg" for i in range(3000)]})
    pq.write_table(train.slice(0, 2000), root / "ours" / "train-0.parquet")
    pq.write_table(train.slice(2000), root / "ours" / "train-1.parquet")
    pq.write_table(pa.table({"id": [1, 2], "label": ["neg", "pos"]}), root / "ours" / "test.parquet")
    pq.write_table(pa.table({"word": ["hello"]}), root / "ours" / "extra.parquet")
    (root / "secret").mkdir()
    pq.write_table(pa.table({"secret": ["other dataset"]}), root / "secret" / "0000.parquet")
    (root / "secret" / "notes.csv").write_text("a,b\n1,2\n")
    tables = [
        SplitTable("main", "train", (root / "ours" / "train-0.parquet", root / "ours" / "train-1.parquet")),
        SplitTable("main", "test", (root / "ours" / "test.parquet",)),
        SplitTable("extra", "train", (root / "ours" / "extra.parquet",)),
    ]
    return tables, root


def test_view_names_follow_configs(dataset: tuple[list[SplitTable], Path]) -> None:
    tables, _ = dataset
    assert list(table_names(tables)) == ["main_train", "main_test", "extra_train"]
    assert list(table_names(tables[:2])) == ["train", "test"]


def test_select_over_splits(dataset: tuple[list[SplitTable], Path]) -> None:
    tables, _ = dataset
    result = run_query(tables, "SELECT label, count(*) AS n FROM main_train GROUP BY label ORDER BY label")
    assert result.rows == [{"label": "neg", "n": 1000}, {"label": "pos", "n": 2000}] and not result.truncated
    body = result.to_json()
    assert body["columns"] == [{"name": "label", "type": "string"}, {"name": "n", "type": "int64"}]
    joined = run_query(
        tables,
        "WITH t AS (SELECT id FROM main_test) SELECT e.word, t.id FROM t, extra_train e ORDER BY t.id",
    )
    assert joined.rows == [{"word": "hello", "id": 1}, {"word": "hello", "id": 2}]
    assert run_query(tables, "VALUES (1, 'a')").rows == [{"col0": 1, "col1": "a"}]


def test_row_limit(dataset: tuple[list[SplitTable], Path]) -> None:
    tables, _ = dataset
    result = run_query(tables, "SELECT * FROM main_train ORDER BY id", ConsoleLimits(max_rows=10))
    assert [r["id"] for r in result.rows] == list(range(10)) and result.truncated


def test_export_csv_and_parquet(dataset: tuple[list[SplitTable], Path], tmp_path: Path) -> None:
    tables, _ = dataset
    sql = "SELECT id, label FROM main_train WHERE id < 5 ORDER BY id"
    assert export_query(tables, sql, tmp_path / "out.csv", "csv") == 5
    with (tmp_path / "out.csv").open() as f:
        assert list(csv.reader(f)) == [["id", "label"], ["0", "neg"], ["1", "pos"], ["2", "pos"], ["3", "neg"],
                                       ["4", "pos"]]  # fmt: skip
    assert export_query(tables, sql, tmp_path / "out.parquet", "parquet") == 5
    assert pq.read_table(tmp_path / "out.parquet").to_pylist()[3] == {"id": 3, "label": "neg"}
    limited = ConsoleLimits(max_export_rows=7)
    assert export_query(tables, "SELECT * FROM main_train", tmp_path / "few.parquet", "parquet", limited) == 7
    with pytest.raises(QueryRefused):
        export_query(tables, "COPY main_train TO 'x.csv'", tmp_path / "no.csv", "csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["few.parquet", "out.csv", "out.parquet"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/passwd')",
        "SELECT * FROM read_parquet('{root}/secret/0000.parquet')",
        "SELECT * FROM read_csv('{root}/secret/notes.csv')",
        "SELECT * FROM '{root}/secret/0000.parquet'",
        "SELECT * FROM read_parquet('{root}/ours/../secret/0000.parquet')",
        "SELECT * FROM glob('{root}/*')",
        "SELECT * FROM read_csv('http://127.0.0.1:1/x.csv')",
        "SELECT * FROM duckdb_extensions()",
    ],
)
def test_reading_outside_the_dataset_is_refused(dataset: tuple[list[SplitTable], Path], sql: str) -> None:
    tables, root = dataset
    with pytest.raises(QueryRefused) as caught:
        run_query(tables, sql.format(root=root))
    assert caught.value.status == 400 and "outside the dataset" in caught.value.message


@pytest.mark.parametrize(
    "sql",
    [
        "COPY main_train TO '/tmp/stolen.csv'",
        "COPY (SELECT 1) TO '/tmp/stolen.parquet' (FORMAT parquet)",
        "EXPORT DATABASE '/tmp/stolen'",
        "ATTACH '/tmp/x.duckdb' AS x",
        "ATTACH ':memory:' AS m",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET memory_limit = '100GB'",
        "RESET threads",
        "PRAGMA threads = 64",
        "CREATE TABLE t AS SELECT 1",
        "CREATE VIEW v AS SELECT 1",
        "INSERT INTO main_train VALUES (1, 'x')",
        "DROP VIEW main_train",
        "SELECT 1; SELECT 2",
        "SELECT 1; COPY main_train TO '/tmp/stolen.csv'",
        "CALL pragma_version()",
        "EXPLAIN SELECT 1",
    ],
)
def test_writes_and_changes_are_refused(dataset: tuple[list[SplitTable], Path], sql: str) -> None:
    tables, _ = dataset
    with pytest.raises(QueryRefused) as caught:
        run_query(tables, sql)
    assert caught.value.status == 400
    assert not Path("/tmp/stolen.csv").exists() and not Path("/tmp/stolen.parquet").exists()


def test_nested_statements_stay_reads(dataset: tuple[list[SplitTable], Path]) -> None:
    tables, _ = dataset
    with pytest.raises(InvalidArgument, match="SELECT"):
        run_query(tables, "SELECT * FROM query('INSTALL httpfs')")
    settings = run_query(
        tables, "SELECT current_setting('enable_external_access') AS e, current_setting('threads') AS t"
    )
    assert settings.rows == [{"e": False, "t": 1}]


def test_huge_cross_join_is_cut_off_by_the_time_limit(dataset: tuple[list[SplitTable], Path]) -> None:
    tables, _ = dataset
    with pytest.raises(QueryTimeout) as caught:
        run_query(
            tables,
            "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b",
            ConsoleLimits(timeout_s=0.5),
        )
    assert caught.value.status == 408


def test_enormous_string_aggregation_hits_the_memory_limit(dataset: tuple[list[SplitTable], Path]) -> None:
    tables, _ = dataset
    with pytest.raises((QueryTooLarge, QueryTimeout)) as caught:
        run_query(
            tables,
            "SELECT length(string_agg(repeat('x', 10000), ',')) FROM range(10000000)",
            ConsoleLimits(memory_limit_bytes=64 * 1024 * 1024, timeout_s=20),
        )
    assert isinstance(caught.value, QueryTooLarge) and caught.value.status == 413


def test_bad_sql_is_invalid_argument(dataset: tuple[list[SplitTable], Path]) -> None:
    tables, _ = dataset
    for sql in ["SELEC 1", "SELECT * FROM nope", "x" * 20_001]:
        with pytest.raises(HubError) as caught:
            run_query(tables, sql)
        assert caught.value.status == 400
    with pytest.raises(InvalidArgument, match="format"):
        export_query(tables, "SELECT 1", Path("/tmp/never.xlsx"), "xlsx")  # type: ignore[arg-type]
