"""The dataset viewer end to end on a live hub: a ~1 GB Parquet split pushed with huggingface_hub, converted
by the hub's own job, then pages of 100 rows through HF's `/datasets-server/rows` (first page and the page
at offset 1,000,000; median ms of sequential requests, target under 100 ms), against `/health`, the
cheapest answer the server gives, in the same run. Also how long the push-to-viewable conversion took.

    python -m benches.bench_dataset_viewer_api [--mb 1024] [--repeat 21]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from huggingface_hub import HfApi

from benches.bench_dataset_rows import generate_parquet
from benches.common import live_hub


def _median_ms(client: httpx.Client, url: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-viewer-api-", dir="/tmp") as tmp, live_hub() as hub:
        data = Path(tmp) / "train.parquet"
        rows = generate_parquet(data, args.mb)
        owner, token = hub.user("bench")
        repo = f"{owner}/big"
        api = HfApi(endpoint=hub.url, token=token)
        api.create_repo(repo, repo_type="dataset")
        pushed = time.perf_counter()
        api.upload_file(path_or_fileobj=str(data), path_in_repo="data/train.parquet", repo_id=repo, repo_type="dataset")
        uploaded = time.perf_counter()
        base = f"{hub.url}/datasets-server"
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            deadline = time.monotonic() + 600
            while not client.get(f"{base}/is-valid", params={"dataset": repo}).json().get("viewer"):
                if time.monotonic() > deadline:
                    raise SystemExit("the conversion did not finish in 600 s")
                time.sleep(0.2)
            viewable = time.perf_counter()
            page = f"{base}/rows?dataset={repo}&config=default&split=train&length=100&offset="
            first = client.get(page + "0").json()
            assert first["num_rows_total"] == rows and len(first["rows"]) == 100, first.get("num_rows_total")
            health = _median_ms(client, f"{hub.url}/health", args.repeat)
            offset_0 = _median_ms(client, page + "0", args.repeat)
            offset_1m = _median_ms(client, page + "1000000", args.repeat)
        print(
            json.dumps(
                {
                    "parquet_bytes": data.stat().st_size,
                    "rows": rows,
                    "upload_s": round(uploaded - pushed, 1),
                    "upload_to_viewable_s": round(viewable - uploaded, 1),
                    "health_ms": round(health, 2),
                    "rows_offset_0_ms": round(offset_0, 2),
                    "rows_offset_1000000_ms": round(offset_1m, 2),
                    "offset_0_minus_health_ms": round(offset_0 - health, 2),
                    "load_average": [round(x, 2) for x in os.getloadavg()],
                }
            )
        )


if __name__ == "__main__":
    main()
