"""Writers of one repository are served in arrival order, whatever door they use (git push, commit API)."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from csghub.git.write_lock import QUEUE_DIR, WriteLock
from tests.support.clients import api, create_repo, git, setup_git_home
from tests.support.live import LiveHub
from tests.support.waiting import wait_until

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

DEADLINE_S = 180.0


def _queued(bare: Path, which: Callable[[int, bytes], bool]) -> int:
    """How many writers matching `which(pid, cmdline)` wait in the repository's write queue."""
    count = 0
    for node in (bare / QUEUE_DIR).glob("n-*"):
        pid = int(node.name.split("-")[1])
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        count += which(pid, cmdline)
    return count


def _commit(url: str, token: str, repo: str, path: str, text: str) -> httpx.Response:
    body = "\n".join(
        json.dumps(line)
        for line in (
            {"key": "header", "value": {"summary": f"add {path}", "description": ""}},
            {
                "key": "file",
                "value": {"path": path, "content": base64.b64encode(text.encode()).decode(), "encoding": "base64"},
            },
        )
    )
    return httpx.post(
        f"{url}/api/models/{repo}/commit/main",
        content=body + "\n",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
        timeout=DEADLINE_S,
    )


def _branches_ready(live: LiveHub, tmp_path: Path, user: str, token: str, repo: str, count: int) -> tuple[Path, dict]:
    """A clone with branches b0..b{count-1}, one commit each, ready to push."""
    genv = setup_git_home(tmp_path / "home")
    work = tmp_path / "work"
    git("clone", "-q", f"http://{user}:{token}@{live.host()}/{repo}", str(work), cwd=tmp_path, env=genv)
    for i in range(count):
        git("checkout", "-q", "-b", f"b{i}", "main", cwd=work, env=genv)
        (work / f"pushed-{i}.txt").write_text(f"pusher {i}\n")
        git("add", ".", cwd=work, env=genv)
        git("commit", "-q", "-m", f"pusher {i}", cwd=work, env=genv)
    return work, genv


def _push(
    live: LiveHub, user: str, token: str, repo: str, work: Path, genv: dict, branch: str
) -> subprocess.Popen[str]:
    url = f"http://{user}:{token}@{live.host()}/{repo}"
    return subprocess.Popen(
        ["git", "push", "-q", url, f"{branch}:{branch}"],
        cwd=work,
        env=genv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _journal_ref_updates(live: LiveHub, bare: Path) -> None:
    """git's reference-transaction hook: every ref update, push or commit API, appended as it commits. The hub's
    own git runs the repository's hooks; a push runs the hub's hooks folder (core.hooksPath), which all its
    repositories share, so there only this repository's updates count (receive-pack runs hooks inside it)."""
    journal = f'while read -r old new ref; do echo "$ref" >> "{bare / "journal"}"; done\n'
    only_here = f'[ "$(pwd -P)" = "{bare.resolve()}" ] || exit 0\n'
    for folder, script in ((bare / "hooks", journal), (live.hub.settings.hooks_dir, only_here + journal)):
        folder.mkdir(parents=True, exist_ok=True)
        hook = folder / "reference-transaction"
        hook.write_text('#!/bin/sh\n[ "$1" = committed ] || exit 0\n' + script)
        hook.chmod(0o755)


def test_writers_through_push_and_commit_api_are_served_in_arrival_order(live: LiveHub, tmp_path: Path) -> None:
    user, token = live.user()
    repo = f"{user}/ordered"
    create_repo(live.url, token, repo)
    bare = live.repo_dir(repo)
    pushers_n = 8
    work, genv = _branches_ready(live, tmp_path, user, token, repo, pushers_n)
    assert live.process is not None
    hub_pid = live.process.pid

    _journal_ref_updates(live, bare)
    ahead = WriteLock(bare)  # a writer already at work: everyone else queues behind it, in order
    ahead.acquire(5)
    pushers: list[subprocess.Popen[str]] = []
    commits: list[threading.Thread] = []
    answers: dict[int, int] = {}
    arrival: list[str] = []
    try:
        for i in range(pushers_n):
            pushers.append(_push(live, user, token, repo, work, genv, f"b{i}"))
            wait_until(
                lambda n=i + 1: _queued(bare, lambda _p, cmd: b"hook" in cmd) == n,
                f"pusher {i} in the queue",
                timeout=DEADLINE_S,
            )
            arrival.append(f"push b{i}")
            if i % 2 == 1:  # a commit-API writer arrives between every two pushes
                j = len(commits)

                def commit(j: int = j) -> None:
                    answers[j] = _commit(live.url, token, repo, f"committed-{j}.txt", f"commit {j}\n").status_code

                commits.append(threading.Thread(target=commit))
                commits[-1].start()
                wait_until(
                    lambda n=j + 1: _queued(bare, lambda p, _c: p == hub_pid) == n,
                    f"commit {j} in the queue",
                    timeout=DEADLINE_S,
                )
                arrival.append(f"commit {j}")
    finally:
        ahead.release()
    for pusher in pushers:
        _, err = pusher.communicate(timeout=DEADLINE_S)
        assert pusher.returncode == 0, err
    for thread in commits:
        thread.join(DEADLINE_S)
    assert answers == {j: 200 for j in range(len(commits))}

    # The order the writes took effect, as git itself reports each committed ref transaction.
    moved = [ref for ref in (bare / "journal").read_text().split() if ref != "HEAD"]  # HEAD: main, by symref
    expected = [f"refs/heads/b{a.split()[1][1:]}" if a.startswith("push") else "refs/heads/main" for a in arrival]
    assert moved == expected
    history = subprocess.run(
        ["git", "--git-dir", str(bare), "log", "--format=%s", "--reverse", "main"], capture_output=True, text=True
    ).stdout.split("\n")
    committed = [line.removeprefix("add ") for line in history if "committed-" in line]
    assert committed == [f"committed-{j}.txt" for j in range(len(commits))]


def test_pushers_all_succeed_under_steady_commit_api_load(live: LiveHub, tmp_path: Path) -> None:
    user, token = live.user()
    repo = f"{user}/busy"
    create_repo(live.url, token, repo)
    pushers_n = 16
    work, genv = _branches_ready(live, tmp_path, user, token, repo, pushers_n)

    stop = threading.Event()
    committed: list[int] = []
    failed: list[str] = []

    def steady_writer(w: int) -> None:
        for k in range(400):  # bounded even if the pushers hang
            if stop.is_set():
                return
            r = _commit(live.url, token, repo, f"load-{w}-{k}.txt", f"{w} {k}\n")
            (committed if r.status_code == 200 else failed).append(r.status_code if r.status_code == 200 else r.text)

    writers = [threading.Thread(target=steady_writer, args=(w,)) for w in range(2)]
    for writer in writers:
        writer.start()
    wait_until(lambda: len(committed) >= 4, "the commit-API load to be under way", timeout=DEADLINE_S)
    started = time.monotonic()
    pushers = [_push(live, user, token, repo, work, genv, f"b{i}") for i in range(pushers_n)]
    took: list[float] = []
    try:
        for pusher in pushers:
            _, err = pusher.communicate(timeout=DEADLINE_S)
            took.append(time.monotonic() - started)
            assert pusher.returncode == 0, err  # first try: nobody is turned away
    finally:
        stop.set()
        for writer in writers:
            writer.join(DEADLINE_S)
    assert failed == []
    assert len(committed) > 4  # the load kept going while the pushes were served
    with api(live.url, token) as client:
        branches = {b["name"]: b["targetCommit"] for b in client.get(f"/api/models/{repo}/refs").json()["branches"]}
    for i in range(pushers_n):
        local = git("rev-parse", f"b{i}", cwd=work, env=genv).stdout.strip()
        assert branches[f"b{i}"] == local
    print(f"{pushers_n} pushers under {len(committed)} commits: slowest push done after {max(took):.1f}s")


def test_push_overtaken_by_an_earlier_writer_is_told_to_integrate(live: LiveHub, tmp_path: Path) -> None:
    user, token = live.user()
    repo = f"{user}/overtaken"
    create_repo(live.url, token, repo)
    bare = live.repo_dir(repo)
    work, genv = _branches_ready(live, tmp_path, user, token, repo, 0)
    (work / "mine.txt").write_text("pushed on top of what I fetched\n")
    git("add", ".", cwd=work, env=genv)
    git("commit", "-q", "-m", "mine", cwd=work, env=genv)
    assert live.process is not None
    hub_pid = live.process.pid

    ahead = WriteLock(bare)
    ahead.acquire(5)
    answer: list[int] = []
    try:
        commit = threading.Thread(
            target=lambda: answer.append(_commit(live.url, token, repo, "first.txt", "first\n").status_code)
        )
        commit.start()  # arrives first...
        wait_until(
            lambda: _queued(bare, lambda p, _c: p == hub_pid) == 1, "the commit in the queue", timeout=DEADLINE_S
        )
        pusher = _push(live, user, token, repo, work, genv, "main")  # ...then the push, from the old head
        wait_until(
            lambda: _queued(bare, lambda _p, cmd: b"hook" in cmd) == 1, "the push in the queue", timeout=DEADLINE_S
        )
    finally:
        ahead.release()
    commit.join(DEADLINE_S)
    _, err = pusher.communicate(timeout=DEADLINE_S)
    assert answer == [200]
    assert pusher.returncode != 0
    assert "updated by another writer while this push was on its way" in err
    files = subprocess.run(
        ["git", "--git-dir", str(bare), "ls-tree", "--name-only", "main"], capture_output=True, text=True
    ).stdout.split()
    assert "first.txt" in files and "mine.txt" not in files
