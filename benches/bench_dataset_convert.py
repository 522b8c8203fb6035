"""Converting a CSV split to Parquet shards (services/datasets/convert.py) against DuckDB's own
`COPY (SELECT * FROM read_csv(...)) TO 'x.parquet'` of the same file, in the same run (target: ratio under 1.2).
Also the whole conversion job's work (services/datasets/job.py: the conversion, then every column's
statistics), against the same baseline.

    python -m benches.bench_dataset_convert [--mb 1024] [--rounds 3] [--threads 2] [--memory-mb 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from csghub.services.datasets.convert import ConversionLimits, convert_split
from csghub.services.datasets.job import SPEC, convert_all
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


def cpu_seconds() -> float:
    """User + system time of this process, DuckDB's threads included: what the work costs whatever the load."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def baseline(csv: Path, out: Path, limits: ConversionLimits) -> tuple[float, float]:
    con = open_connection(limits.memory_limit_bytes, limits.threads, out.parent / "spill-base")
    start, cpu = time.perf_counter(), cpu_seconds()
    con.execute(f"COPY (SELECT * FROM read_csv({literal(str(csv))})) TO {literal(str(out))} (FORMAT parquet)")
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    con.close()
    return elapsed, cpu


def ours(root: Path, out: Path, limits: ConversionLimits) -> tuple[float, float, int, int]:
    layout = detect_layout({"train.csv": (root / "train.csv").stat().st_size})
    config = layout.configs[0]
    start, cpu = time.perf_counter(), cpu_seconds()
    result = convert_split(config, config.get_split("train"), root, out, limits)
    return time.perf_counter() - start, cpu_seconds() - cpu, result.num_rows, result.bytes_out


def whole_job(csv: Path, work: Path, limits: ConversionLimits) -> float:
    """The job process's work on the same file: conversion plus statistics (in this process, timed alone)."""
    (work / "in").mkdir(parents=True)
    (work / "in" / "train.csv").symlink_to(csv)
    spec = {"files": {"train.csv": csv.stat().st_size}, "readme": None, "shard_bytes": limits.shard_bytes}
    spec |= {"memory_bytes": limits.memory_limit_bytes, "threads": limits.threads, "stats_timeout": 3600}
    (work / SPEC).write_text(json.dumps(spec))
    start = time.perf_counter()
    result = convert_all(work)
    assert result["splits"] and result["splits"][0]["statistics"] is not None, result
    return time.perf_counter() - start


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
        base: list[tuple[float, float]] = []
        mine: list[tuple[float, float]] = []
        rows = out_bytes = shards = 0
        for r in range(args.rounds):
            # Alternate which goes first so the page cache and the machine's load favour neither.
            for which in ("base", "ours") if r % 2 == 0 else ("ours", "base"):
                if which == "base":
                    base.append(baseline(csv, Path(tmp) / f"base-{r}.parquet", limits))
                    (Path(tmp) / f"base-{r}.parquet").unlink()
                else:
                    elapsed, cpu, rows, out_bytes = ours(root, Path(tmp) / f"ours-{r}", limits)
                    mine.append((elapsed, cpu))
                    shards = len(list((Path(tmp) / f"ours-{r}").iterdir()))
        job_s = whole_job(csv, Path(tmp) / "job", limits)
        base_med, ours_med = statistics.median(b[0] for b in base), statistics.median(m[0] for m in mine)
        base_cpu, ours_cpu = statistics.median(b[1] for b in base), statistics.median(m[1] for m in mine)
        print(
            json.dumps(
                {
                    "csv_bytes": csv.stat().st_size,
                    "rows": rows,
                    "parquet_bytes": out_bytes,
                    "shards": shards,
                    "duckdb_copy_s": [round(b[0], 2) for b in base],
                    "convert_split_s": [round(m[0], 2) for m in mine],
                    "ratio_median": round(ours_med / base_med, 3),
                    "duckdb_copy_cpu_s": [round(b[1], 2) for b in base],
                    "convert_split_cpu_s": [round(m[1], 2) for m in mine],
                    "cpu_ratio_median": round(ours_cpu / base_cpu, 3),
                    "job_with_statistics_s": round(job_s, 2),
                    "job_ratio_to_copy_median": round(job_s / base_med, 3),
                    "threads": args.threads,
                    "load_average": [round(x, 2) for x in os.getloadavg()],
                }
            )
        )


if __name__ == "__main__":
    main()
