"""git clone over the hub's smart HTTP versus `git clone file://` of the same bare repository, and the
time of a push of one small commit.

The repository has 1,000 commits and 5,000 files, built locally with `git fast-import` and pushed
over HTTP (with --with-api, a second one is written through the commit API, one commit per request).
The two clones run alternately, several rounds; the figures are medians, so a neighbour's burst of
load on a shared machine hits both sides alike. Target: HTTP <= 1.15x file://.

    python -m benches.bench_clone [--commits 1000] [--files-per-commit 5] [--rounds 7] [--with-api]
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from tests.support.clients import client_env, create_repo, git
from tests.support.live import LiveHub

from benches.common import live_hub
from csghub.git.repository import GitRepo


def _content(c: int, f: int) -> str:
    return f"file {c}-{f}\n" + ("line of text for a realistic size\n" * 20)


def _fast_import_stream(commits: int, per_commit: int) -> bytes:
    lines: list[str] = []
    for c in range(commits):
        lines.append("commit refs/heads/main")
        lines.append(f"committer Bench <bench@example.com> {1700000000 + c} +0000")
        message = f"commit {c}"
        lines.append(f"data {len(message)}")
        lines.append(message)
        if c == 0:
            lines.append("from refs/heads/main^0")
        for f in range(per_commit):
            content = _content(c, f)
            lines.append(f"M 100644 inline dir{c % 50}/file-{c}-{f}.txt")
            lines.append(f"data {len(content.encode())}")
            lines.append(content)
    return ("\n".join(lines) + "\n").encode()


def _timed_clone(url: str, dest: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    git("clone", "--quiet", "--no-checkout", url, str(dest), cwd=dest.parent, env=env)
    elapsed = time.perf_counter() - start
    shutil.rmtree(dest)
    return elapsed


def _clones_side_by_side(rounds: int, http_url: str, bare: Path, dest: Path, env: dict[str, str]) -> dict[str, float]:
    """Alternate the two clones (after one warm-up each) and return their medians and the ratio."""
    _timed_clone(http_url, dest, env)
    _timed_clone(f"file://{bare}", dest, env)
    http_s: list[float] = []
    file_s: list[float] = []
    for _ in range(rounds):
        http_s.append(_timed_clone(http_url, dest, env))
        file_s.append(_timed_clone(f"file://{bare}", dest, env))
    ratios = sorted(h / f for h, f in zip(http_s, file_s, strict=True))
    return {
        "http_clone_s": round(statistics.median(http_s), 3),
        "file_clone_s": round(statistics.median(file_s), 3),
        "http_vs_file": round(statistics.median(http_s) / statistics.median(file_s), 3),
        "ratio_spread": [round(ratios[0], 3), round(ratios[-1], 3)],
    }


def _small_pushes(hub: LiveHub, user: str, token: str, tmp: Path, env: dict[str, str], rounds: int) -> float:
    """Median seconds of `git push` of one small commit (hook, fsck, bookkeeping included)."""
    repo = f"{user}/small-pushes"
    create_repo(hub.url, token, repo)
    work = tmp / "small"
    git("clone", "--quiet", f"http://{user}:{token}@{hub.host()}/{repo}", str(work), cwd=tmp, env=env)
    took: list[float] = []
    for i in range(rounds + 1):
        (work / f"note-{i}.txt").write_text(f"note {i}\n")
        git("add", ".", cwd=work, env=env)
        git("commit", "--quiet", "-m", f"note {i}", cwd=work, env=env)
        start = time.perf_counter()
        git("push", "--quiet", "origin", "main", cwd=work, env=env)
        took.append(time.perf_counter() - start)
    return statistics.median(took[1:])  # the first push also warms the server's caches


def _write_through_api(hub: LiveHub, token: str, repo: str, commits: int, per_commit: int) -> float:
    """Commits per second through the commit API, one commit per request."""
    start = time.perf_counter()
    with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for c in range(commits):
            ops = [json.dumps({"key": "header", "value": {"summary": f"commit {c}"}})]
            for f in range(per_commit):
                content = base64.b64encode(_content(c, f).encode()).decode()
                value = {"path": f"dir{c % 50}/file-{c}-{f}.txt", "encoding": "base64", "content": content}
                ops.append(json.dumps({"key": "file", "value": value}))
            client.post(f"/api/models/{repo}/commit/main", content="\n".join(ops) + "\n").raise_for_status()
    return commits / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--files-per-commit", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--with-api", action="store_true", help="also clone a repository written by the commit API")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="csghub-bench-clone-", dir="/tmp") as tmp_name:
        tmp = Path(tmp_name)
        env = client_env(tmp / "home")
        with live_hub() as hub:
            user, token = hub.user()
            results: dict[str, object] = {
                "bench": "clone",
                "commits": args.commits,
                "files": args.commits * args.files_per_commit,
                "rounds": args.rounds,
            }
            pushed = f"{user}/by-push"
            create_repo(hub.url, token, pushed)
            work = tmp / "work"
            git("clone", "--quiet", f"http://{user}:{token}@{hub.host()}/{pushed}", str(work), cwd=tmp, env=env)
            subprocess.run(
                ["git", "fast-import", "--quiet"],
                cwd=work,
                env=env,
                check=True,
                input=_fast_import_stream(args.commits, args.files_per_commit),
            )
            git("push", "--quiet", "--force", "origin", "main", cwd=work, env=env)
            written = [("push", pushed)]
            if args.with_api:
                api_repo = f"{user}/by-api"
                create_repo(hub.url, token, api_repo)
                rate = _write_through_api(hub, token, api_repo, args.commits, args.files_per_commit)
                results["api_commits_per_s"] = round(rate, 1)
                written.append(("api", api_repo))
            for label, repo in written:
                bare = hub.repo_dir(repo)
                measured = _clones_side_by_side(args.rounds, f"http://{hub.host()}/{repo}", bare, tmp / "c", env)
                results.update({f"{label}_{key}": value for key, value in measured.items()})
                results[f"{label}_loose_objects"] = GitRepo(bare).loose_object_count()
            results["small_push_s"] = round(_small_pushes(hub, user, token, tmp, env, args.rounds), 3)
        print(json.dumps(results))


if __name__ == "__main__":
    main()
