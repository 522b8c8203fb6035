"""Per-column statistics of a split, in the JSON shape of Hugging Face dataset-viewer's /statistics.

Numbers get min/max/mean/median/std and a 10-bin histogram; booleans their true/false counts; strings with few
distinct values (string_label) their frequencies and number of distinct values; other strings (string_text) and
lists the same numbers over their lengths. Everything is computed by DuckDB over the Parquet shards, with the
engine's memory, thread and time bounds. Columns of other types (binary, structs, dates) are left out, as HF does
for types it has no statistics for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from csghub.services.datasets.errors import QueryTimeout, QueryTooLarge
from csghub.services.datasets.sandbox import Deadline, deadline, identifier, literal, open_connection

N_BINS = 10
MAX_NUM_STRING_LABELS = 30  # more distinct values than this and a string column is text, not a category
DECIMALS = 5


@dataclass(frozen=True, slots=True)
class StatisticsLimits:
    memory_limit_bytes: int = 1024 * 1024 * 1024
    threads: int = 2
    timeout_s: float = 300.0


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DECIMALS) if math.isfinite(value) else None
    return value


def _kind(t: pa.DataType) -> str | None:
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "list"
    return None


class _Split:
    def __init__(self, con: duckdb.DuckDBPyConnection, shards: Sequence[Path], num_rows: int, limit: Deadline) -> None:
        self.con = con
        self.limit = limit
        self.source = "read_parquet([" + ", ".join(literal(str(s)) for s in shards) + "])"
        self.num_rows = num_rows

    def all(self, sql: str) -> list[tuple[Any, ...]]:
        self.limit.check()  # a limit reached between two queries still stops the work
        return self.con.sql(sql).fetchall()

    def one(self, sql: str) -> tuple[Any, ...]:
        rows = self.all(sql)
        return rows[0]

    def numbers(self, expr: str, integer: bool) -> dict[str, Any]:
        """min/max/mean/median/std and the histogram of `expr` (a column, or the lengths of one)."""
        nulls, lo, hi, mean, median, std = self.one(
            f"SELECT count(*) - count(v), min(v), max(v), avg(v), median(v), stddev_samp(v) "
            f"FROM (SELECT {expr} AS v FROM {self.source})"
        )
        stats: dict[str, Any] = {
            "nan_count": int(nulls),
            "nan_proportion": _round(nulls / self.num_rows) if self.num_rows else 0.0,
            "min": _round(int(lo) if integer and lo is not None else _float(lo)),
            "max": _round(int(hi) if integer and hi is not None else _float(hi)),
            "mean": _round(_float(mean)),
            "median": _round(_float(median)),
            "std": _round(_float(std)),
            "histogram": None,
        }
        if lo is not None:
            stats["histogram"] = self.histogram(expr, lo, hi, integer)
        return stats

    def histogram(self, expr: str, lo: Any, hi: Any, integer: bool) -> dict[str, list[Any]]:
        if integer:
            # Integer bins as HF draws them: a whole width, so every bin covers the same count of integers.
            width: float = max(1, math.ceil((int(hi) - int(lo) + 1) / N_BINS))
            n_bins = max(1, math.ceil((int(hi) - int(lo) + 1) / width))
            edges: list[Any] = [int(lo) + i * int(width) for i in range(n_bins)] + [int(hi)]
        else:
            lo_f, hi_f = float(lo), float(hi)
            n_bins = N_BINS if hi_f > lo_f else 1
            width = (hi_f - lo_f) / n_bins if hi_f > lo_f else 1.0
            edges = [_round(lo_f + i * width) for i in range(n_bins)] + [_round(hi_f)]
        counts = dict(
            self.all(
                f"SELECT least(floor((v - {float(lo)!r}) / {float(width)!r})::BIGINT, {n_bins - 1}) AS b, count(*) "
                f"FROM (SELECT {expr} AS v FROM {self.source}) WHERE v IS NOT NULL GROUP BY b"
            )
        )
        return {"hist": [int(counts.get(i, 0)) for i in range(n_bins)], "bin_edges": edges}

    def booleans(self, col: str) -> dict[str, Any]:
        nulls, trues, falses = self.one(
            f"SELECT count(*) - count({col}), count(*) FILTER ({col}), count(*) FILTER (NOT {col}) FROM {self.source}"
        )
        frequencies = {k: int(v) for k, v in (("False", falses), ("True", trues)) if v}
        return {
            "nan_count": int(nulls),
            "nan_proportion": _round(nulls / self.num_rows) if self.num_rows else 0.0,
            "frequencies": frequencies,
        }

    def strings(self, col: str) -> tuple[str, dict[str, Any]]:
        # HyperLogLog first: an exact distinct count of millions of unique texts needs gigabytes, and all we need
        # to know is whether there are more than a few (its error is a few percent, far inside the margin).
        (approx,) = self.one(f"SELECT approx_count_distinct({col}) FROM {self.source}")
        if approx > 2 * MAX_NUM_STRING_LABELS:
            return "string_text", self.numbers(f"length({col})", integer=True)
        (n_unique,) = self.one(f"SELECT count(DISTINCT {col}) FROM {self.source}")
        if n_unique > MAX_NUM_STRING_LABELS:
            return "string_text", self.numbers(f"length({col})", integer=True)
        rows = self.all(f"SELECT {col}, count(*) AS n FROM {self.source} GROUP BY {col} ORDER BY n DESC, {col}")
        nulls = sum(int(n) for value, n in rows if value is None)
        return "string_label", {
            "nan_count": nulls,
            "nan_proportion": _round(nulls / self.num_rows) if self.num_rows else 0.0,
            "no_label_count": 0,
            "no_label_proportion": 0.0,
            "n_unique": int(n_unique),
            "frequencies": {str(value): int(n) for value, n in rows if value is not None},
        }


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def compute_statistics(
    shards: Sequence[Path], limits: StatisticsLimits = StatisticsLimits(), spill: Path | None = None
) -> dict[str, Any]:
    """HF's /statistics body for the split made of these shards: num_examples, statistics[], partial.

    `spill` is a folder the caller owns (and removes) where DuckDB may spill what passes the memory limit, e.g.
    the median of a very large split; without it such a split raises QueryTooLarge."""
    schema = pq.read_schema(shards[0]).remove_metadata()
    num_rows = sum(pq.read_metadata(s).num_rows for s in shards)
    con = open_connection(limits.memory_limit_bytes, limits.threads, spill)
    out = []
    try:
        with deadline(con, limits.timeout_s) as limit:
            split = _Split(con, shards, num_rows, limit)
            for f in schema:
                kind = _kind(f.type)
                col = identifier(f.name)
                if kind is None:
                    continue
                if kind == "bool":
                    column_type, stats = "bool", split.booleans(col)
                elif kind == "int":
                    column_type, stats = "int", split.numbers(col, integer=True)
                elif kind == "float":
                    # NaN is a missing value for statistics (HF counts it in nan_count too).
                    expr = f"CASE WHEN isnan({col}::DOUBLE) THEN NULL ELSE {col}::DOUBLE END"
                    column_type, stats = "float", split.numbers(expr, integer=False)
                elif kind == "list":
                    column_type, stats = "list", split.numbers(f"len({col})", integer=True)
                else:
                    column_type, stats = split.strings(col)
                out.append({"column_name": f.name, "column_type": column_type, "column_statistics": stats})
    except duckdb.InterruptException as exc:
        raise QueryTimeout(f"Statistics took longer than {limits.timeout_s:g} s") from exc
    except duckdb.OutOfMemoryException as exc:
        raise QueryTooLarge("Statistics need more memory than allowed") from exc
    finally:
        con.close()
    return {"num_examples": num_rows, "statistics": out, "partial": False}
