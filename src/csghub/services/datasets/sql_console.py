"""Read-only SQL over a dataset's splits, in a DuckDB sandbox.

Each split is a view (named after the split, or `config_split` when the dataset has several configs) over its own
Parquet shards. The views are made first, with DuckDB allowed to read exactly those files; then external access
is switched off and the configuration locked, so a query can read no other file (no /etc/passwd, no other
dataset), write none (COPY, EXPORT), attach nothing, load no extension and change no limit. Only one statement,
and only a read (SELECT, WITH, VALUES, TABLE, FROM-first), is accepted. A timer interrupts a query that runs past
the time limit; the memory limit and the row limit bound the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from csghub.core.errors import InvalidArgument
from csghub.services.datasets.cells import CellLimits, rows_to_json
from csghub.services.datasets.errors import QueryRefused, QueryTimeout, QueryTooLarge
from csghub.services.datasets.sandbox import Deadline, deadline, identifier, literal, open_connection

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ConsoleLimits:
    memory_limit_bytes: int = 256 * 1024 * 1024
    threads: int = 1
    timeout_s: float = 10.0
    max_rows: int = 1_000  # rows a query shows
    max_export_rows: int = 1_000_000  # rows a download may hold
    max_sql_chars: int = 20_000
    cells: CellLimits = field(default_factory=CellLimits)


@dataclass(frozen=True, slots=True)
class SplitTable:
    config: str
    split: str
    shards: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class QueryResult:
    schema: pa.Schema
    rows: list[dict[str, Any]]  # the row objects only (no row_idx: a query's rows are not the split's rows)
    truncated: bool  # the query had more rows than max_rows

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": [{"name": f.name, "type": str(f.type)} for f in self.schema],
            "rows": self.rows,
            "num_rows": len(self.rows),
            "truncated": self.truncated,
        }


def table_names(tables: Sequence[SplitTable]) -> dict[str, SplitTable]:
    """View name -> split: `train` with one config, `config_train` with several."""
    several = len({t.config for t in tables}) > 1
    return {(f"{t.config}_{t.split}" if several else t.split): t for t in tables}


def run_query(tables: Sequence[SplitTable], sql: str, limits: ConsoleLimits = ConsoleLimits()) -> QueryResult:
    """At most max_rows rows of one read-only query over the splits."""
    with _sandbox(tables, sql, limits) as con:
        table = _guarded(lambda _: con.sql(sql).limit(limits.max_rows + 1).to_arrow_table(), con, limits)
    truncated = table.num_rows > limits.max_rows
    table = table.slice(0, limits.max_rows)
    rows = [r["row"] for r in rows_to_json(table, 0, limits.cells)]
    return QueryResult(table.schema, rows, truncated)


def export_query(
    tables: Sequence[SplitTable],
    sql: str,
    destination: Path,
    fmt: Literal["csv", "parquet"],
    limits: ConsoleLimits = ConsoleLimits(),
) -> int:
    """Write the query's rows (at most max_export_rows) to `destination` as CSV or Parquet; returns the row count.
    The file appears only when complete. The sandbox cannot write files: the rows stream out through Arrow."""
    if fmt not in ("csv", "parquet"):
        raise InvalidArgument(f"Unknown export format {fmt!r}; use csv or parquet")
    partial = destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:12]}.part")
    written = 0
    try:
        with _sandbox(tables, sql, limits) as con:

            def write(limit: Deadline) -> None:
                nonlocal written
                reader = con.sql(sql).limit(limits.max_export_rows).to_arrow_reader(batch_size=65_536)
                writer: pq.ParquetWriter | pacsv.CSVWriter
                if fmt == "parquet":
                    writer = pq.ParquetWriter(partial, reader.schema)
                else:
                    writer = pacsv.CSVWriter(partial, reader.schema)
                with writer:
                    for batch in reader:
                        limit.check()  # the stream may sit between DuckDB's fetches when the time is up
                        writer.write_batch(batch)
                        written += batch.num_rows

            _guarded(write, con, limits)
        partial.rename(destination)
    finally:
        partial.unlink(missing_ok=True)
    return written


def _check_statement(con: duckdb.DuckDBPyConnection, sql: str, limits: ConsoleLimits) -> None:
    if len(sql) > limits.max_sql_chars:
        raise InvalidArgument(f"The query is longer than {limits.max_sql_chars} characters")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise InvalidArgument(f"The query does not parse: {_first_line(exc)}") from exc
    if len(statements) != 1:
        raise QueryRefused(f"Run exactly one statement (got {len(statements)})")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise QueryRefused(f"Only reads (SELECT) may run here, not {statements[0].type.name}")


@contextmanager
def _sandbox(tables: Sequence[SplitTable], sql: str, limits: ConsoleLimits) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_connection(limits.memory_limit_bytes, limits.threads)
    try:
        _check_statement(con, sql, limits)
        names = table_names(tables)
        files = [str(s) for t in tables for s in t.shards]
        # DuckDB checks allowed_paths only once external access is off: these files and nothing else.
        con.execute(f"SET allowed_paths = [{', '.join(literal(f) for f in files)}]")
        for name, t in names.items():
            shards = ", ".join(literal(str(s)) for s in t.shards)
            con.execute(f"CREATE VIEW {identifier(name)} AS SELECT * FROM read_parquet([{shards}])")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        yield con
    finally:
        con.close()


def _guarded(work: Callable[[Deadline], T], con: duckdb.DuckDBPyConnection, limits: ConsoleLimits) -> T:
    try:
        with deadline(con, limits.timeout_s) as limit:
            result = work(limit)
        return result
    except duckdb.InterruptException as exc:
        raise QueryTimeout(f"The query ran longer than {limits.timeout_s:g} s and was stopped") from exc
    except duckdb.OutOfMemoryException as exc:
        raise QueryTooLarge(f"The query needs more than {limits.memory_limit_bytes // (1024 * 1024)} MiB") from exc
    except duckdb.PermissionException as exc:
        raise QueryRefused(f"The query reaches outside the dataset: {_first_line(exc)}") from exc
    except duckdb.Error as exc:
        raise InvalidArgument(f"The query failed: {_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
