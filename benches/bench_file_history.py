"""The file list with each entry's last commit, on a repository with a long history: ~2,000 commits over
~500 files (10 folders of 45 and 50 at the root, a fifth of them untouched since the first commit, so
the walk must reach the very first commit), timed from a client on loopback: the first visit (a cold
per-commit cache: one bounded `git log` walk per folder) and the median and p95 of the visits after it.
The baseline in the same run is `/health`.

    python -m benches.bench_file_history [--commits 2000] [--requests 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import httpx
from tests.support.clients import client_env, create_repo, git

from benches.bench_portal import _timed
from benches.common import live_hub

FOLDERS, PER_FOLDER, AT_ROOT = 10, 45, 50


def _paths() -> list[str]:
    inside = [f"dir{d:02d}/file{f:03d}.txt" for d in range(FOLDERS) for f in range(PER_FOLDER)]
    return inside + [f"top{f:03d}.txt" for f in range(AT_ROOT)]


def _history_stream(commits: int) -> bytes:
    """The first commit adds every file; each later one changes one of the first four fifths."""
    paths = _paths()
    touched = paths[: len(paths) * 4 // 5]
    lines: list[str] = []
    for n in range(commits):
        message = f"change {n}"
        lines += ["commit refs/heads/main", f"committer Bench <bench@example.com> {1700000000 + n * 60} +0000"]
        lines += [f"data {len(message)}", message]
        if n == 0:
            lines.append("from refs/heads/main^0")
        for path in paths if n == 0 else [touched[(n * 7919) % len(touched)]]:
            content = f"{path} at {n}\n"
            lines += [f"M 100644 inline {path}", f"data {len(content)}", content]
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with live_hub({"CSGHUB_RATE_LIMIT_PER_ADDRESS": "0"}) as hub, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        user, token = hub.user("bench")
        create_repo(hub.url, token, f"{user}/long")
        env = client_env(tmp / "home")
        work = tmp / "work"
        git("clone", "-q", f"http://{user}:{token}@{hub.host()}/{user}/long.git", str(work), cwd=tmp, env=env)
        stream = _history_stream(args.commits)
        subprocess.run(["git", "fast-import", "--quiet"], cwd=work, env=env, input=stream, check=True)
        git("push", "-q", "origin", "main", cwd=work, env=env)
        with httpx.Client(base_url=hub.url, headers={"Accept": "text/html"}, timeout=60) as client:
            # The server's first page compiles templates; one folder first, so "cold" below is the walk's.
            client.get(f"/{user}/long/tree/main/dir09").raise_for_status()
            results = {
                "health": _timed(client, "/health", args.requests),
                "tree_root": _timed(client, f"/{user}/long/tree/main", args.requests),
                "tree_folder": _timed(client, f"/{user}/long/tree/main/dir03", args.requests),
                "file_history": _timed(client, f"/{user}/long/commits/main/dir03/file001.txt", args.requests),
            }
            page = client.get(f"/{user}/long/tree/main").text
    print(
        json.dumps(
            {
                "bench": "file_history",
                "commits": args.commits + 1,  # and the repository's first commit (.gitattributes)
                "files": len(_paths()),
                "older_entries_on_root": page.count('class="older"'),
                **results,
                "tree_root_vs_health": round(results["tree_root"]["median_ms"] / results["health"]["median_ms"], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
