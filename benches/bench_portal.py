"""Portal pages at scale: a repository page and its file list with 10,000 files, and a model listing
over 10,000 repositories, timed from a client on loopback (median and p95 of sequential requests);
the baseline in the same run is `/health`, the cheapest answer the server gives.

    python -m benches.bench_portal [--files 10000] [--repos 10000] [--requests 60]

The 10,000 files arrive by one `git push` (built with git fast-import); the 10,000 listed repositories
are rows written straight into the database, since the listing reads only rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from tests.support.clients import client_env, create_repo, git

from benches.common import live_hub


def _files_stream(count: int) -> bytes:
    lines = ["commit refs/heads/main", "committer Bench <bench@example.com> 1700000000 +0000", "data 5", "files"]
    lines.append("from refs/heads/main^0")
    readme = "---\nlicense: mit\npipeline_tag: text-generation\n---\n# big\n\nA repository with many files.\n"
    lines += ["M 100644 inline README.md", f"data {len(readme.encode())}", readme]
    for i in range(count):
        content = f"row {i}\n"
        lines += [f"M 100644 inline data/part-{i:05d}.txt", f"data {len(content)}", content]
    return ("\n".join(lines) + "\n").encode()


def _seed_repos(hub_data: Path, env: dict[str, str], owner: str, count: int) -> None:
    from csghub.config import load_settings
    from csghub.db.models import Namespace, Repo
    from csghub.wiring import build_hub

    hub = build_hub(load_settings(env, None, {"data_dir": hub_data}), run_migrations=False)
    with hub.db() as session:
        from sqlalchemy import select

        ns = session.scalar(select(Namespace).where(Namespace.name_key == owner.lower()))
        assert ns is not None
        session.add_all(
            Repo(type="model", namespace_id=ns.id, name=f"m{i:05d}", name_key=f"m{i:05d}", downloads=i % 997)
            for i in range(count)
        )


def _timed(client: httpx.Client, path: str, requests: int) -> dict[str, float]:
    start = time.perf_counter()
    client.get(path).raise_for_status()  # the first visitor fills the per-commit caches
    cold = (time.perf_counter() - start) * 1000
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        r = client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        r.raise_for_status()
    samples.sort()
    return {
        "cold_ms": round(cold, 1),
        "median_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 1),
        "bytes": len(r.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repos", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    with live_hub({"CSGHUB_RATE_LIMIT_PER_ADDRESS": "0"}) as hub, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        user, token = hub.user("bench")
        create_repo(hub.url, token, f"{user}/big")
        env = client_env(tmp / "home")
        work = tmp / "work"
        git("clone", "-q", f"http://{user}:{token}@{hub.host()}/{user}/big.git", str(work), cwd=tmp, env=env)
        subprocess.run(
            ["git", "fast-import", "--quiet"], cwd=work, env=env, input=_files_stream(args.files), check=True
        )
        git("push", "-q", "origin", "main", cwd=work, env=env)
        _seed_repos(hub.data_dir, hub.env, user, args.repos)
        with httpx.Client(base_url=hub.url, headers={"Accept": "text/html"}, timeout=60) as client:
            results = {
                "health": _timed(client, "/health", args.requests),
                "repo_page": _timed(client, f"/{user}/big", args.requests),
                "file_list_10k": _timed(client, f"/{user}/big/tree/main/data", args.requests),
                "models_listing": _timed(client, "/models", args.requests),
                "models_search": _timed(client, "/models?search=m0999&sort=downloads", args.requests),
            }
    print(
        json.dumps(
            {
                "bench": "portal",
                "files": args.files,
                "repos": args.repos,
                **results,
                "repo_page_vs_health": round(results["repo_page"]["median_ms"] / results["health"]["median_ms"], 1),
                "listing_vs_health": round(results["models_listing"]["median_ms"] / results["health"]["median_ms"], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
