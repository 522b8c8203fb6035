"""A page of 100 rows from a ~1 GB Parquet split (services/datasets/rows.py), first page and the page at
offset 1,000,000, against DuckDB's plain `SELECT * FROM read_parquet(...) LIMIT 100 OFFSET n` in the same run
(target: median under 100 ms).

    python -m benches.bench_dataset_rows [--mb 1024] [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from csghub.services.datasets.convert import ROW_GROUP_ROWS
from csghub.services.datasets.rows import SplitReader
from csghub.services.datasets.sandbox import literal

MiB = 1024 * 1024
OFFSETS = (0, 1_000_000)


def generate_parquet(path: Path, megabytes: int) -> int:
    """About `megabytes` of Parquet (snappy, row groups as the conversion writes them), ~187 bytes a row."""
    rows = megabytes * MiB // 187
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT i AS id, i % 1000 AS bucket, random() AS score, 'label_' || (i % 17) AS label,
                  md5(i::VARCHAR) || ' ' || md5((i * 3)::VARCHAR) || ' ' || md5((i * 7)::VARCHAR) || ' '
                  || md5((i * 11)::VARCHAR) || ' ' || md5((i * 13)::VARCHAR) AS text
           FROM range({rows}) t(i)) TO {literal(str(path))} (FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP_ROWS})"""
    )
    con.close()
    return rows


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # the first call pays for the page cache; every contender gets the same warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dataset-rows-", dir="/tmp") as tmp:
        path = Path(tmp) / "0000.parquet"
        rows = generate_parquet(path, args.mb)
        cached = SplitReader([path])
        con = duckdb.connect(config={"threads": 2})
        result: dict[str, object] = {"file_bytes": path.stat().st_size, "rows": rows}
        for offset in OFFSETS:
            result[f"offset_{offset}"] = {
                # A fresh reader reads the footer again: what a request costs with no cache at all.
                "rows_py_fresh_ms": median_ms(lambda o=offset: SplitReader([path]).read(o, 100).to_json(), args.repeat),
                "rows_py_cached_ms": median_ms(lambda o=offset: cached.read(o, 100).to_json(), args.repeat),
                "duckdb_limit_offset_ms": median_ms(
                    lambda o=offset: con.execute(
                        f"SELECT * FROM read_parquet({literal(str(path))}) LIMIT 100 OFFSET {o}"
                    ).fetchall(),
                    args.repeat,
                ),
            }
        con.close()
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(result))


if __name__ == "__main__":
    main()
