"""git clone of a repository with 1,000 commits and 5,000 files, over the hub's smart HTTP versus
`git clone file://` of the same bare repository, for a repository written by push and one written
through the commit API.

    python -m benches.bench_clone [--commits 1000] [--files-per-commit 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from tests.support.clients import client_env, create_repo, git

from benches.common import live_hub


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
            content = f"file {c}-{f}\n" + ("line of text for a realistic size\n" * 20)
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


def _best_of(n: int, url: str, dest: Path, env: dict[str, str]) -> float:
    return min(_timed_clone(url, dest, env) for _ in range(n))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--files-per-commit", type=int, default=5)
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
            }

            # 1. Written by push: build locally with fast-import, push over HTTP.
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

            # 2. Written through the commit API, one commit per request.
            api_repo = f"{user}/by-api"
            create_repo(hub.url, token, api_repo)
            start = time.perf_counter()
            with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
                for i in range(args.commits):
                    ops = [json.dumps({"key": "header", "value": {"summary": f"commit {i}"}})]
                    for f in range(args.files_per_commit):
                        content = f"file {i}-{f}\n" + ("line of text for a realistic size\n" * 20)
                        import base64

                        ops.append(
                            json.dumps(
                                {
                                    "key": "file",
                                    "value": {
                                        "path": f"dir{i % 50}/file-{i}-{f}.txt",
                                        "encoding": "base64",
                                        "content": base64.b64encode(content.encode()).decode(),
                                    },
                                }
                            )
                        )
                    c.post(f"/api/models/{api_repo}/commit/main", content="\n".join(ops) + "\n").raise_for_status()
            results["api_commits_per_s"] = round(args.commits / (time.perf_counter() - start), 1)

            from csghub.core.names import RepoId, RepoType
            from csghub.services import repos
            from csghub.services.permissions import Actor

            admin = Actor(user_id=0, is_admin=True)
            for label, repo in (("push", pushed), ("api", api_repo)):
                view = repos.get_repo(hub.hub, admin, RepoType.MODEL, RepoId.parse(repo))
                bare = hub.hub.repo_path(view.id)
                http_s = _best_of(3, f"http://{hub.host()}/{repo}", tmp / "c", env)
                file_s = _best_of(3, f"file://{bare}", tmp / "c", env)
                results[f"{label}_http_clone_s"] = round(http_s, 3)
                results[f"{label}_file_clone_s"] = round(file_s, 3)
                results[f"{label}_http_vs_file"] = round(http_s / file_s, 2)
                results[f"{label}_loose_objects"] = hub.hub.git(view.id).loose_object_count()
        print(json.dumps(results))


if __name__ == "__main__":
    main()
