"""Repo info and resolve HEAD under load from a second process: requests per second and p95 latency.

    python -m benches.bench_load [--requests 3000] [--concurrency 16]

The load comes from a separate process with a bounded number of requests; the baseline in the same
run is GET /health, the cheapest route the server has, so the ratios show what the real work costs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from tests.support.clients import create_repo

from benches.common import live_hub


def _load(
    url: str, method: str, headers: dict[str, str], requests: int, concurrency: int, out: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(limits=limits, timeout=30, headers=headers) as client:

        def one(_: int) -> tuple[float, bool]:
            start = time.perf_counter()
            r = client.request(method, url)
            return time.perf_counter() - start, r.status_code == 200

        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            for latency, ok in pool.map(one, range(requests)):
                latencies.append(latency)
                errors += 0 if ok else 1
        elapsed = time.perf_counter() - start
    latencies.sort()
    out.put(
        {
            "rps": round(requests / elapsed, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
            "errors": errors,
        }
    )


def _measure(url: str, method: str, headers: dict[str, str], requests: int, concurrency: int) -> dict[str, float]:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    proc = multiprocessing.Process(target=_load, args=(url, method, headers, requests, concurrency, queue))
    proc.start()
    result = queue.get(timeout=600)
    proc.join(timeout=60)
    return result  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    # The rate limiter stays in the path (its cost is part of the figure) with a limit the load never reaches.
    with live_hub({"CSGHUB_RATE_LIMIT_PER_TOKEN": "100000000"}) as hub:
        user, token = hub.user()
        repo = f"{user}/loaded"
        create_repo(hub.url, token, repo)
        headers = {"Authorization": f"Bearer {token}"}
        body = (
            "\n".join(
                [
                    json.dumps({"key": "header", "value": {"summary": "files"}}),
                    *(
                        json.dumps(
                            {"key": "file", "value": {"path": f"f{i}.txt", "content": "aGVsbG8=", "encoding": "base64"}}
                        )
                        for i in range(50)
                    ),
                ]
            )
            + "\n"
        )
        httpx.post(f"{hub.url}/api/models/{repo}/commit/main", content=body, headers=headers).raise_for_status()
        runs = {
            "health": ("GET", f"{hub.url}/health"),
            "repo_info": ("GET", f"{hub.url}/api/models/{repo}"),
            "resolve_head": ("HEAD", f"{hub.url}/{repo}/resolve/main/f7.txt"),
        }
        results = {
            name: _measure(url, method, headers, args.requests, args.concurrency)
            for name, (method, url) in runs.items()
        }
    base = results["health"]["rps"]
    print(
        json.dumps(
            {
                "bench": "load",
                "requests": args.requests,
                "concurrency": args.concurrency,
                **results,
                "repo_info_vs_health": round(results["repo_info"]["rps"] / base, 2),
                "resolve_head_vs_health": round(results["resolve_head"]["rps"] / base, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
