"""Converting a CSV split to Parquet shards (services/datasets/convert.py) against DuckDB's own
`COPY (SELECT * FROM read_csv(...)) TO 'x.parquet'` of the same file, in the same run (target: ratio under 1.2).

    python -m benches.bench_dataset_convert [--mb 1024] [--rounds 3] [--threads 2] [--memory-mb 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from csghub.services.datasets.convert import ConversionLimits, convert_split
from csghub.services.datasets.layout import detect_layout
from csghub.services.datasets.sandbox import literal, open_connection

MiB = 1024 * 1024


def generate_csv(path: Path, megabytes: int) -> None:
    """About `megabytes` of CSV with ints, floats, short labels and sentences (~97 bytes a row)."""
    rows = megabytes * MiB // 97
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT i AS id, (i * 7919) % 1000003 AS score, random() AS ratio,
                  'label_' || (i % 17) AS label,
                  'row ' || i || ' says ' || md5(i::VARCHAR) || ' and ' || (i % 97) AS text
           FROM range({rows}) t(i)) TO {literal(str(path))} (HEADER, DELIMITER ',')"""
    )
    con.close()


def baseline(csv: Path, out: Path, limits: ConversionLimits) -> float:
    con = open_connection(limits.memory_limit_bytes, limits.threads, out.parent / "spill-base")
    start = time.perf_counter()
    con.execute(f"COPY (SELECT * FROM read_csv({literal(str(csv))})) TO {literal(str(out))} (FORMAT parquet)")
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed


def ours(root: Path, out: Path, limits: ConversionLimits) -> tuple[float, int, int]:
    layout = detect_layout({"train.csv": (root / "train.csv").stat().st_size})
    config = layout.configs[0]
    start = time.perf_counter()
    result = convert_split(config, config.get_split("train"), root, out, limits)
    return time.perf_counter() - start, result.num_rows, result.bytes_out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-mb", type=int, default=1024)
    args = parser.parse_args()
    limits = ConversionLimits(memory_limit_bytes=args.memory_mb * MiB, threads=args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-dataset-convert-", dir="/tmp") as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        csv = root / "train.csv"
        generate_csv(csv, args.mb)
        base_s: list[float] = []
        ours_s: list[float] = []
        rows = out_bytes = 0
        for r in range(args.rounds):
            # Alternate which goes first so the page cache and the machine's load favour neither.
            if r % 2 == 0:
                base_s.append(baseline(csv, Path(tmp) / f"base-{r}.parquet", limits))
                elapsed, rows, out_bytes = ours(root, Path(tmp) / f"ours-{r}", limits)
                ours_s.append(elapsed)
            else:
                elapsed, rows, out_bytes = ours(root, Path(tmp) / f"ours-{r}", limits)
                ours_s.append(elapsed)
                base_s.append(baseline(csv, Path(tmp) / f"base-{r}.parquet", limits))
            (Path(tmp) / f"base-{r}.parquet").unlink()
        base_med, ours_med = statistics.median(base_s), statistics.median(ours_s)
        print(
            json.dumps(
                {
                    "csv_bytes": csv.stat().st_size,
                    "rows": rows,
                    "parquet_bytes": out_bytes,
                    "duckdb_copy_s": [round(s, 2) for s in base_s],
                    "convert_split_s": [round(s, 2) for s in ours_s],
                    "ratio_median": round(ours_med / base_med, 3),
                    "threads": args.threads,
                    "load_average": [round(x, 2) for x in os.getloadavg()],
                }
            )
        )


if __name__ == "__main__":
    main()
