"""The conversion job's own process: `python -m csghub.services.datasets.job WORK_DIR`.

The hub (services/datasets/job_files.py) prepares WORK_DIR: `spec.json` (the commit's file sizes, its
README, the limits) and `in/` (the data files the layout reads). This process converts every split of
every config to `out/{config}/{split}/NNNN.parquet` with DuckDB, computes each split's column statistics,
and writes `result.json`; `progress.json` says how many splits are done. It runs on the compute
runtime as batch work, so it survives a restart of the hub and its memory is bounded there; what it
writes is published by the hub (refs/convert/parquet), never by this process.

Exit status 0 with a result (which may hold a readable error for the dataset page), or non-zero when the
process itself failed (its log's tail then says why)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from csghub.core.errors import HubError
from csghub.services.datasets.cells import features
from csghub.services.datasets.convert import ConversionLimits, convert_split
from csghub.services.datasets.layout import detect_layout
from csghub.services.datasets.statistics import StatisticsLimits, compute_statistics

SPEC, RESULT, PROGRESS = "spec.json", "result.json", "progress.json"


def write_json(path: Path, value: Any) -> None:
    """Whole or not at all: the hub may read the file at any moment."""
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(json.dumps(value))
    os.replace(partial, path)


def convert_all(work: Path) -> dict[str, Any]:
    spec = json.loads((work / SPEC).read_text())
    limits = ConversionLimits(
        shard_bytes=int(spec["shard_bytes"]), memory_limit_bytes=int(spec["memory_bytes"]), threads=int(spec["threads"])
    )
    stats_limits = StatisticsLimits(
        memory_limit_bytes=int(spec["memory_bytes"]),
        threads=int(spec["threads"]),
        timeout_s=float(spec["stats_timeout"]),
    )
    layout = detect_layout(spec["files"], spec.get("readme"))
    pairs = [(config, split) for config in layout.configs for split in config.splits]
    out = work / "out"
    splits = []
    write_json(work / PROGRESS, {"done": 0, "total": len(pairs)})
    for done, (config, split) in enumerate(pairs, start=1):
        converted = convert_split(config, split, work / "in", out / config.name / split.name, limits)
        shards = [out / config.name / split.name / name for name in converted.shards]
        entry: dict[str, Any] = {
            "config": config.name,
            "split": split.name,
            "num_rows": converted.num_rows,
            "num_bytes_original": converted.bytes_in,
            "num_bytes_parquet": converted.bytes_out,
            "features": features(converted.schema),
            "shards": list(converted.shards),
            "statistics": None,
            "statistics_error": "",
        }
        spill = work / "spill"
        spill.mkdir(exist_ok=True)
        try:
            entry["statistics"] = compute_statistics(shards, stats_limits, spill)
        except HubError as exc:  # statistics are extra: the rows stay viewable without them
            entry["statistics_error"] = str(exc)
        finally:
            shutil.rmtree(spill, ignore_errors=True)
        splits.append(entry)
        write_json(work / PROGRESS, {"done": done, "total": len(pairs)})
    return {"splits": splits, "error": ""}


def main(argv: list[str]) -> int:
    work = Path(argv[1])
    started = time.monotonic()
    try:
        result = convert_all(work)
    except HubError as exc:  # a broken file or layout: the dataset page shows this message
        result = {"splits": [], "error": str(exc)}
    write_json(work / RESULT, result)
    print(f"converted {len(result['splits'])} split(s) in {time.monotonic() - started:.1f} s", flush=True)
    if result["error"]:
        print(f"error: {result['error']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
