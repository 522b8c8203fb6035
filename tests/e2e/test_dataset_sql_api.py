"""The SQL console's API against a live hub: read-only queries over a converted dataset's splits (columns,
rows, the row limit, the table names), downloads as CSV and Parquet that leave no file behind, escape
attempts refused with the sandbox's message, and the time and memory limits as their typed errors."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

import pyarrow.parquet as pq
import pytest

from tests.conftest import start_hub
from tests.support.clients import api
from tests.support.dataset_viewer import CITIES, PEOPLE_TEST, push_mixed
from tests.support.live import LiveHub

pytestmark = pytest.mark.engine_bound  # scripts/test runs it on SQLite only (pyproject.toml)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    # A short SQL time limit, so the console's cut-off shows in seconds.
    started = start_hub(tmp_path_factory.mktemp("sql") / "data", {"CSGHUB_DATASET_SQL_TIMEOUT": "2"})
    yield started
    started.stop()


@pytest.fixture(scope="module")
def dataset(hub: LiveHub) -> tuple[str, str]:
    return push_mixed(hub)


def test_sql_console_answers_a_query_with_columns_rows_and_tables(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, _ = dataset
    with api(hub.url) as client:
        r = client.post(
            f"/api/v1/datasets/{repo_id}/dataviewer/sql",
            json={"sql": "SELECT city, count(*) AS n FROM people_train GROUP BY city ORDER BY city"},
        )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["columns"] == [{"name": "city", "type": "string"}, {"name": "n", "type": "int64"}]
    assert data["rows"] == [{"city": c, "n": 6} for c in sorted(CITIES)] and data["truncated"] is False
    assert data["tables"] == ["people_train", "people_test", "notes_train", "notes_validation"]
    with api(hub.url) as client:
        many = client.post(f"/api/v1/datasets/{repo_id}/dataviewer/sql", json={"sql": "SELECT * FROM range(5000)"})
    assert many.json()["data"]["truncated"] is True and many.json()["data"]["num_rows"] == 1000


def test_sql_console_downloads_csv_and_parquet_then_removes_the_file(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, _ = dataset
    sql = "SELECT name, age FROM people_test ORDER BY age"
    with api(hub.url) as client:
        as_csv = client.post(f"/api/v1/datasets/{repo_id}/dataviewer/sql/download", json={"sql": sql})
        as_parquet = client.get(
            f"/api/v1/datasets/{repo_id}/dataviewer/sql/download", params={"sql": sql, "format": "parquet"}
        )
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-disposition"] == 'attachment; filename="mixed-query.csv"'
    assert list(csv.DictReader(io.StringIO(as_csv.text))) == [
        {"name": r["name"], "age": str(r["age"])} for r in PEOPLE_TEST
    ]
    assert as_parquet.headers["content-disposition"] == 'attachment; filename="mixed-query.parquet"'
    assert pq.read_table(io.BytesIO(as_parquet.content)).to_pylist() == [
        {"name": r["name"], "age": r["age"]} for r in PEOPLE_TEST
    ]
    assert list(hub.hub.settings.tmp_dir.glob("csg-sql-*")) == []


@pytest.mark.parametrize(
    ("sql", "code", "needle"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "QueryRefused", "outside the dataset"),
        ("COPY people_train TO '/tmp/out.csv'", "QueryRefused", "Only reads"),
        ("ATTACH '/tmp/other.db' AS other", "QueryRefused", "Only reads"),
        ("INSTALL httpfs", "QueryRefused", "Only reads"),
        ("SET memory_limit = '100GB'", "QueryRefused", "Only reads"),
        ("SELECT 1; SELECT 2", "QueryRefused", "exactly one statement"),
        ("SELEC nonsense", "InvalidArgument", "does not parse"),
    ],
)
def test_sql_console_refuses_escapes_with_the_sandbox_message(
    hub: LiveHub, dataset: tuple[str, str], sql: str, code: str, needle: str
) -> None:
    repo_id, _ = dataset
    with api(hub.url) as client:
        r = client.post(f"/api/v1/datasets/{repo_id}/dataviewer/sql", json={"sql": sql})
        exported = client.post(f"/api/v1/datasets/{repo_id}/dataviewer/sql/download", json={"sql": sql})
    for answer in (r, exported):
        assert answer.status_code == 400, answer.text
        assert answer.headers["x-error-code"] == code and needle in answer.json()["error"], answer.text


def test_sql_console_stops_a_query_at_the_time_limit(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, _ = dataset
    started = time.monotonic()
    with api(hub.url) as client:
        r = client.post(
            f"/api/v1/datasets/{repo_id}/dataviewer/sql",
            json={"sql": "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b"},
        )
    assert r.status_code == 408 and r.headers["x-error-code"] == "QueryTimeout", r.text
    assert "longer than 2 s" in r.json()["error"] and time.monotonic() - started < 15


def test_sql_console_stops_a_query_at_the_memory_limit(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, _ = dataset
    sql = "SELECT length(string_agg(repeat('x', 10000), ',')) AS n FROM range(10000000)"
    with api(hub.url) as client:
        r = client.post(f"/api/v1/datasets/{repo_id}/dataviewer/sql", json={"sql": sql})
        exported = client.post(f"/api/v1/datasets/{repo_id}/dataviewer/sql/download", json={"sql": sql})
    for answer in (r, exported):
        assert answer.status_code == 413 and answer.headers["x-error-code"] == "QueryTooLarge", answer.text
        assert "needs more than 256 MiB" in answer.json()["error"]
    assert list(hub.hub.settings.tmp_dir.glob("csg-sql-*")) == []


def test_sql_console_bodies_are_bounded(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, _ = dataset
    with api(hub.url) as client:
        huge = client.post(f"/api/v1/datasets/{repo_id}/dataviewer/sql", json={"sql": "SELECT 1 " + " " * (2 << 20)})
        empty = client.post(f"/api/v1/datasets/{repo_id}/dataviewer/sql", json={})
        wrong = client.post(
            f"/api/v1/datasets/{repo_id}/dataviewer/sql/download", json={"sql": "SELECT 1", "format": "xls"}
        )
    assert huge.status_code == 413
    assert empty.status_code == 400 and "'sql' is required" in empty.json()["error"]
    assert wrong.status_code == 400 and "csv or parquet" in wrong.json()["error"]
