"""Pages of rows from a split's Parquet shards: plain paging, search, filters and ordering.

Plain paging reads Parquet footers only, finds the row groups that hold the page and decodes just those with
pyarrow, so the page at offset 1,000,000 costs what the first page costs. Search, filters and ordering run in
DuckDB over the same shards; the caller's columns and operators are checked against the schema and a fixed set,
identifiers come from the schema, and every value travels as a bound parameter, never inside the SQL text.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from csghub.core.errors import InvalidArgument
from csghub.services.datasets.cells import CellLimits, features, rows_to_json
from csghub.services.datasets.errors import QueryTimeout, QueryTooLarge
from csghub.services.datasets.sandbox import deadline, identifier, literal, open_connection

ROW_IDX = "__csghub_row_idx"
MAX_PAGE = 100  # HF's viewer pages by at most 100 rows
MAX_SEARCH_CHARS = 200
MAX_IN_VALUES = 100
# op -> SQL template over {col} and one bound parameter `?` (None: no parameter).
COMPARISONS = {"eq": "{col} = ?", "ne": "{col} <> ?", "lt": "{col} < ?", "le": "{col} <= ?", "gt": "{col} > ?",
               "ge": "{col} >= ?"}  # fmt: skip
TEXT_OPS = {"contains": "contains(lower({col}), ?)", "starts_with": "starts_with(lower({col}), ?)"}
NULL_OPS = {"is_null": "{col} IS NULL", "is_not_null": "{col} IS NOT NULL"}
OPERATORS = frozenset([*COMPARISONS, *TEXT_OPS, *NULL_OPS, "in"])


@dataclass(frozen=True, slots=True)
class Filter:
    column: str
    operator: str  # one of OPERATORS
    value: Any = None  # a number, string or bool; a list for "in"; nothing for the null tests


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one of the conditions holds (SQL's OR)."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every condition holds (SQL's AND; a query's filters are all of them already)."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    """The condition does not hold (SQL's NOT)."""

    condition: Condition


Condition = Filter | AnyOf | AllOf | Negation
MAX_DEPTH = 8  # groups within groups


@dataclass(frozen=True, slots=True)
class Order:
    column: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class QueryLimits:
    memory_limit_bytes: int = 512 * 1024 * 1024
    threads: int = 2
    timeout_s: float = 10.0
    cells: CellLimits = field(default_factory=CellLimits)


@dataclass(frozen=True, slots=True)
class Page:
    schema: pa.Schema
    rows: list[dict[str, Any]]  # HF's {row_idx, row, truncated_cells}
    num_rows_total: int
    offset: int

    def to_json(self) -> dict[str, Any]:
        """The body of HF's /rows, /search and /filter."""
        return {
            "features": features(self.schema),
            "rows": self.rows,
            "num_rows_total": self.num_rows_total,
            "num_rows_per_page": MAX_PAGE,
            "partial": False,
        }


class SplitReader:
    """The footers of a split's shards, read once: where each row group starts. Cheap to keep per commit."""

    def __init__(self, shards: Sequence[Path]) -> None:
        if not shards:
            raise InvalidArgument("A split needs at least one Parquet shard")
        self.shards = [Path(s) for s in shards]
        self._metadata: list[pq.FileMetaData] = []
        self.shard_rows: list[int] = []
        self._groups: list[tuple[int, int]] = []  # (shard index, row group index), in row order
        self._starts: list[int] = []  # first row of each entry of _groups
        total = 0
        schema = None
        for shard_index, shard in enumerate(self.shards):
            meta = pq.read_metadata(shard)
            self._metadata.append(meta)
            self.shard_rows.append(meta.num_rows)
            schema = schema or meta.schema.to_arrow_schema().remove_metadata()
            for group in range(meta.num_row_groups):
                rows = meta.row_group(group).num_rows
                if rows:
                    self._groups.append((shard_index, group))
                    self._starts.append(total)
                    total += rows
        assert schema is not None
        self.schema: pa.Schema = schema
        self.num_rows = total

    def read(self, offset: int, length: int, cells: CellLimits = CellLimits()) -> Page:
        check_page(offset, length)
        end = min(offset + length, self.num_rows)
        if offset >= end:
            return Page(self.schema, [], self.num_rows, offset)
        first = bisect.bisect_right(self._starts, offset) - 1
        last = bisect.bisect_right(self._starts, end - 1) - 1
        tables = []
        by_shard: dict[int, list[int]] = {}
        for shard_index, group in self._groups[first : last + 1]:
            by_shard.setdefault(shard_index, []).append(group)
        for shard_index, groups in by_shard.items():
            # The footer read at construction is reused: a page reads only its row groups' column chunks.
            parquet = pq.ParquetFile(self.shards[shard_index], metadata=self._metadata[shard_index])
            tables.append(parquet.read_row_groups(groups))
        table = pa.concat_tables(tables).slice(offset - self._starts[first], end - offset)
        return Page(self.schema, rows_to_json(table, offset, cells), self.num_rows, offset)

    def take(self, indexes: Sequence[int]) -> pa.Table:
        """The rows at these indexes of the split, in this order: each row group holding one is read once."""
        wanted: dict[int, list[int]] = {}
        for index in dict.fromkeys(indexes):  # each row once; a repeated index is taken again at the end
            if not 0 <= index < self.num_rows:
                raise InvalidArgument(f"Row {index} is not in this split")
            wanted.setdefault(bisect.bisect_right(self._starts, index) - 1, []).append(index)
        if not indexes:
            return self.schema.empty_table()
        pieces = []
        positions: dict[int, int] = {}  # row index -> its row in the concatenated pieces
        for position, group_indexes in wanted.items():
            shard_index, group = self._groups[position]
            parquet = pq.ParquetFile(self.shards[shard_index], metadata=self._metadata[shard_index])
            local = pa.array([i - self._starts[position] for i in group_indexes], type=pa.int64())
            for index in group_indexes:
                positions[index] = len(positions)
            pieces.append(parquet.read_row_group(group).take(local))
        combined = pa.concat_tables(pieces)
        return combined.take(pa.array([positions[i] for i in indexes], type=pa.int64()))


def check_page(offset: int, length: int) -> None:
    if offset < 0:
        raise InvalidArgument(f"offset must be 0 or more, got {offset}")
    if not 1 <= length <= MAX_PAGE:
        raise InvalidArgument(f"length must be between 1 and {MAX_PAGE}, got {length}")


def query_rows(
    reader: SplitReader,
    offset: int,
    length: int,
    *,
    search: str | None = None,
    filters: Sequence[Condition] = (),
    order: Sequence[Order] = (),
    limits: QueryLimits = QueryLimits(),
) -> Page:
    """A page of the rows that match `search` (case-insensitive substring of any string column) and every filter,
    sorted by `order`; row_idx is each row's place in the whole split."""
    check_page(offset, length)
    if not search and not filters and not order:
        return reader.read(offset, length, limits.cells)  # plain paging needs no scan
    where, params = _conditions(reader.schema, search, filters)
    for o in order:
        _column(reader.schema, o.column, orderable=True)
    source = _source(reader)
    con = open_connection(limits.memory_limit_bytes, limits.threads)
    try:
        with deadline(con, limits.timeout_s) as limit:
            if order:
                # Two scans that read only the columns they need: the count, then the top of the order (DuckDB
                # keeps offset+length keys, not the matching rows).
                order_sql = ", ".join(f"{identifier(o.column)} {'DESC' if o.descending else 'ASC'}" for o in order)
                total = con.sql(f"SELECT count(*) FROM ({source}) WHERE {where}", params=params).fetchall()[0][0]
                limit.check()
                picked = con.sql(
                    f"SELECT {ROW_IDX} FROM ({source}) WHERE {where} ORDER BY {order_sql}, {ROW_IDX} LIMIT ? OFFSET ?",
                    params=[*params, length, offset],
                ).fetchall()
            else:
                # One scan: the matching row numbers (8 bytes each) give both the count and the page.
                con.execute(f"CREATE TEMP TABLE matches AS SELECT {ROW_IDX} FROM ({source}) WHERE {where}", params)
                limit.check()
                total = con.sql("SELECT count(*) FROM matches").fetchall()[0][0]
                picked = con.sql(
                    f"SELECT {ROW_IDX} FROM matches ORDER BY {ROW_IDX} LIMIT ? OFFSET ?", params=[length, offset]
                ).fetchall()
    except duckdb.InterruptException as exc:
        raise QueryTimeout(f"The query ran longer than {limits.timeout_s:g} s") from exc
    except duckdb.OutOfMemoryException as exc:
        raise QueryTooLarge("The query needs more memory than the viewer allows") from exc
    except duckdb.ConversionException as exc:
        raise InvalidArgument(f"A filter value does not fit its column: {str(exc).splitlines()[0]}") from exc
    finally:
        con.close()
    # The page's rows come from their row groups through pyarrow, as plain paging reads them.
    indexes = [int(row[0]) for row in picked]
    table = reader.take(indexes)
    return Page(reader.schema, rows_to_json(table, indexes, limits.cells), int(total), offset)


def _source(reader: SplitReader) -> str:
    """Every shard with each row's index in the whole split (file_row_number plus the rows before the shard)."""
    if "file_row_number" in reader.schema.names or ROW_IDX in reader.schema.names:
        # DuckDB's row number column would be shadowed by the dataset's own: refuse rather than number wrongly.
        raise InvalidArgument("Search and filters are not available for a split with a column named file_row_number")
    parts = []
    before = 0
    for shard, rows in zip(reader.shards, reader.shard_rows, strict=True):
        parts.append(
            f"SELECT *, file_row_number + {before} AS {ROW_IDX} "
            f"FROM read_parquet({literal(str(shard))}, file_row_number=true)"
        )
        before += rows
    return " UNION ALL ".join(parts)


def _column(schema: pa.Schema, name: str, *, orderable: bool = False) -> pa.DataType:
    if not isinstance(name, str) or name not in schema.names:
        raise InvalidArgument(f"Unknown column {name!r}; the columns are {schema.names}")
    t = schema.field(name).type
    if orderable and (pa.types.is_nested(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)):
        raise InvalidArgument(f"Column {name!r} cannot be sorted or compared")
    return t


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _check_value(name: str, t: pa.DataType, value: Any) -> None:
    """The value must be of the column's kind, so a mistake reads as such rather than as a cast error."""
    if pa.types.is_boolean(t):
        ok = isinstance(value, bool)
    elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)  # strings, and dates/timestamps written as ISO text
    if not ok:
        raise InvalidArgument(f"Value {value!r} does not fit column {name!r} of type {t}")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(schema: pa.Schema, search: str | None, filters: Sequence[Condition]) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if search:
        if len(search) > MAX_SEARCH_CHARS:
            raise InvalidArgument(f"The search text is longer than {MAX_SEARCH_CHARS} characters")
        text_columns = [f.name for f in schema if _is_text(f.type)]
        if not text_columns:
            raise InvalidArgument("This split has no text column to search")
        # ILIKE scans faster than lower()+contains(); the text's own % _ \\ are escaped to stay literal.
        clauses.append("(" + " OR ".join(f"{identifier(c)} ILIKE ? ESCAPE '\\'" for c in text_columns) + ")")
        params.extend([f"%{_escape_like(search)}%"] * len(text_columns))
    for condition in filters:
        clauses.append(_clause(schema, condition, params, 0))
    return (" AND ".join(clauses) or "true"), params


def _clause(schema: pa.Schema, condition: Condition, params: list[Any], depth: int) -> str:
    """The SQL of one condition, its values appended to `params` (bound, never pasted)."""
    if depth > MAX_DEPTH:
        raise InvalidArgument(f"Conditions may be grouped {MAX_DEPTH} deep at most")
    if isinstance(condition, Negation):
        return f"NOT ({_clause(schema, condition.condition, params, depth + 1)})"
    if isinstance(condition, AnyOf | AllOf):
        if not condition.conditions:
            raise InvalidArgument("A group of conditions needs at least one")
        joiner = " OR " if isinstance(condition, AnyOf) else " AND "
        return "(" + joiner.join(_clause(schema, c, params, depth + 1) for c in condition.conditions) + ")"
    return _filter_clause(schema, condition, params)


def _filter_clause(schema: pa.Schema, f: Filter, params: list[Any]) -> str:
    if f.operator not in OPERATORS:
        raise InvalidArgument(f"Unknown operator {f.operator!r}; use one of {sorted(OPERATORS)}")
    t = _column(schema, f.column, orderable=f.operator not in NULL_OPS)
    col = identifier(f.column)
    if f.operator in NULL_OPS:
        return NULL_OPS[f.operator].format(col=col)
    if f.operator in TEXT_OPS:
        if not _is_text(t) or not isinstance(f.value, str):
            raise InvalidArgument(f"{f.operator} needs a text column and a text value")
        params.append(f.value.lower())
        return TEXT_OPS[f.operator].format(col=col)
    if f.operator == "in":
        if not isinstance(f.value, list) or not 1 <= len(f.value) <= MAX_IN_VALUES:
            raise InvalidArgument(f"'in' needs a list of 1 to {MAX_IN_VALUES} values")
        for v in f.value:
            _check_value(f.column, t, v)
        params.extend(f.value)
        return f"{col} IN ({', '.join('?' for _ in f.value)})"
    _check_value(f.column, t, f.value)
    params.append(f.value)
    return COMPARISONS[f.operator].format(col=col)
