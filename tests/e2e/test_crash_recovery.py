"""kill -9 of the hub during pushes, LFS uploads and commits; after a restart nothing is left behind.

Each round holds the client's bytes at a different offset (tests/support/gate.py), waits for the hub's
own progress (its temp file or git's quarantine reaching a size), kills the hub and everything it
started, and restarts it: the repository must pass `git fsck`, the database must say what the refs
say, the temp space must be empty, and the same push, upload or commit must then succeed.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from csghub.git.write_lock import QUEUE_DIR, WriteLock
from tests.conftest import start_hub
from tests.support.clients import api, create_repo, git, setup_git_home
from tests.support.files import sha256_of
from tests.support.gate import byte_gate
from tests.support.live import LiveHub
from tests.support.waiting import wait_until

DEADLINE_S = 60.0
PAYLOAD = 12 * 1024 * 1024
SLACK = 2 * 1024 * 1024  # bytes the server may still hold in buffers rather than in its temp file
# Let through this much more than the fraction: headers, small requests before the upload, and the
# hub's 1 MiB read batches; but never the whole upload, so the kill always comes before its end.
OVERHEAD = 2 * 1024 * 1024
FRACTIONS = (0.02, 0.25, 0.5, 0.75, 0.98)


@pytest.fixture
def crashable(tmp_path: Path) -> Iterator[LiveHub]:
    hub = start_hub(tmp_path / "data", own_group=True)
    yield hub
    hub.stop()


def _files_under(path: Path) -> list[Path]:
    return [Path(root) / name for root, _, names in os.walk(path) for name in names]


def _temp_space(live: LiveHub, bare: Path) -> tuple[int, list[str]]:
    """Bytes and names of temp files: the hub's tmp/ and what git keeps only while it writes."""
    found = _files_under(live.data_dir / "tmp")
    for pattern in (
        "objects/tmp_objdir-incoming-*",
        "objects/incoming-*",
        "objects/tmp_*",
        "objects/??/tmp_*",
        "objects/pack/tmp_*",
        "objects/pack/.tmp-*",
        "*.lock",
        "refs/**/*.lock",
    ):
        for path in bare.glob(pattern):
            found += _files_under(path) if path.is_dir() else [path]
    found = sorted(set(found))
    return sum(p.stat().st_size for p in found if p.exists()), [str(p.relative_to(live.data_dir)) for p in found]


def _largest_temp(live: LiveHub, bare: Path) -> int:
    _, names = _temp_space(live, bare)
    sizes = [(live.data_dir / name).stat().st_size for name in names if (live.data_dir / name).exists()]
    return max(sizes, default=-1)


def _wait_for_temp(live: LiveHub, bare: Path, wanted: int) -> None:
    """The hub's progress: one of its temp files (spool, upload, git quarantine) holds `wanted` bytes."""
    wait_until(lambda: _largest_temp(live, bare) >= wanted, f"a temp file of {wanted} bytes", timeout=DEADLINE_S)


def _git_says(bare: Path, rev: str = "main") -> tuple[str, list[str]]:
    sha = subprocess.run(["git", "--git-dir", str(bare), "rev-parse", rev], capture_output=True, text=True)
    tree = subprocess.run(
        ["git", "--git-dir", str(bare), "ls-tree", "-r", "--name-only", rev], capture_output=True, text=True
    )
    return sha.stdout.strip(), sorted(tree.stdout.split())


def _assert_consistent(live: LiveHub, token: str, repo: str, bare: Path) -> None:
    """fsck clean; the listing (the database's head and card) and the file list say what git says."""
    fsck = subprocess.run(["git", "--git-dir", str(bare), "fsck", "--no-dangling"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    sha, paths = _git_says(bare)
    user = repo.split("/")[0]
    with api(live.url, token) as client:
        listed = {r["id"]: r for r in client.get("/api/models", params={"author": user}).json()}
        info = client.get(f"/api/models/{repo}").json()
    assert listed[repo]["sha"] == sha
    assert info["sha"] == sha
    assert sorted(s["rfilename"] for s in info["siblings"]) == paths
    readme = subprocess.run(["git", "--git-dir", str(bare), "show", f"{sha}:README.md"], capture_output=True, text=True)
    tags = [line.split(": ", 1)[1] for line in readme.stdout.splitlines() if line.startswith("round: ")]
    if tags:  # the card the database holds is the one the head's README declares
        assert listed[repo]["cardData"].get("round") == tags[0]


def _assert_no_temp(live: LiveHub, bare: Path) -> None:
    size, names = _temp_space(live, bare)
    assert (size, names) == (0, [])


def _restart(live: LiveHub) -> None:
    live.start()


def _readme(round_: int) -> str:
    return f"---\nround: r{round_}\n---\n\n# crash test, round {round_}\n"


def test_crash_during_git_push_then_restart_recovers(crashable: LiveHub, tmp_path: Path) -> None:
    live = crashable
    user, token = live.user()
    repo = f"{user}/pushed"
    create_repo(live.url, token, repo)
    bare = live.repo_dir(repo)
    genv = setup_git_home(tmp_path / "home")
    work = tmp_path / "work"
    git("clone", f"http://{user}:{token}@{live.host()}/{repo}", str(work), cwd=tmp_path, env=genv)
    git("config", "core.compression", "0", cwd=work, env=genv)  # the pack is as large as the payload
    for round_, fraction in enumerate((*FRACTIONS[:-1], 1.0)):
        (work / f"data-{round_}.raw").write_bytes(os.urandom(PAYLOAD))
        (work / "README.md").write_text(_readme(round_))
        git("add", ".", cwd=work, env=genv)
        git("commit", "-q", "-m", f"round {round_}", cwd=work, env=genv)
        before, _ = _git_says(bare)
        held = WriteLock(bare)
        if fraction == 1.0:  # the whole pack arrives; the push is then queued behind this writer
            held.acquire(5)
        budget = min(int(fraction * PAYLOAD) + OVERHEAD, PAYLOAD) if fraction < 1.0 else 1 << 62
        with byte_gate(int(live.url.rsplit(":", 1)[1]), budget) as gate:
            url = f"http://{user}:{token}@127.0.0.1:{gate.port}/{repo}"
            pusher = _start_push(url, work, genv)
            if fraction < 1.0:
                wanted = max(1, int(fraction * PAYLOAD) - SLACK)
                _wait_for_temp(live, bare, wanted)
            else:
                wait_until(
                    lambda: _hook_queued(bare), "the pre-receive hook to queue for the write lock", timeout=DEADLINE_S
                )
            live.crash()
            _stop_push(pusher)
        held.release()
        left, names = _temp_space(live, bare)
        assert left > 0, "the kill should have left a quarantine behind"
        assert any("incoming" in name for name in names), names

        _restart(live)
        assert _git_says(bare)[0] == before  # the killed push never moved the ref
        _assert_consistent(live, token, repo, bare)
        _assert_no_temp(live, bare)
        git("push", "-q", f"http://{user}:{token}@{live.host()}/{repo}", "main", cwd=work, env=genv)
        assert _git_says(bare)[0] == git("rev-parse", "HEAD", cwd=work, env=genv).stdout.strip()
        _pushed(live, token, repo, bare)
        _assert_consistent(live, token, repo, bare)
        _assert_no_temp(live, bare)


def _start_push(url: str, work: Path, genv: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["git", "push", "-q", url, "main"],
        cwd=work,
        env=genv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop_push(pusher: subprocess.Popen[bytes]) -> None:
    """The client and its helpers (git-remote-http, git-lfs): their retries are not under test."""
    os.killpg(pusher.pid, signal.SIGKILL)
    pusher.wait(DEADLINE_S)


def _hook_queued(bare: Path) -> bool:
    """A pre-receive hook waits in the write queue (its node names its pid)."""
    for node in (bare / QUEUE_DIR).glob("n-*"):
        try:
            if b"hook" in Path(f"/proc/{node.name.split('-')[1]}/cmdline").read_bytes():
                return True
        except FileNotFoundError:
            continue
    return False


def _pushed(live: LiveHub, token: str, repo: str, bare: Path) -> None:
    """git reports a push done before the hub's bookkeeping of it ends; wait for that (bounded)."""
    sha, _ = _git_says(bare)
    user = repo.split("/")[0]
    with api(live.url, token) as client:
        wait_until(
            lambda: client.get("/api/models", params={"author": user}).json()[0]["sha"] == sha,
            "the push's metadata refresh",
            timeout=DEADLINE_S,
        )


def test_crash_during_lfs_upload_then_restart_recovers(crashable: LiveHub, tmp_path: Path) -> None:
    live = crashable
    user, token = live.user()
    repo = f"{user}/uploaded"
    create_repo(live.url, token, repo)
    bare = live.repo_dir(repo)
    genv = setup_git_home(tmp_path / "home")
    work = tmp_path / "work"
    git("clone", f"http://{user}:{token}@{live.host()}/{repo}", str(work), cwd=tmp_path, env=genv)
    for round_, fraction in enumerate(FRACTIONS):
        weights = work / f"weights-{round_}.bin"  # *.bin goes to LFS
        weights.write_bytes(os.urandom(PAYLOAD))
        (work / "README.md").write_text(_readme(round_))
        git("add", ".", cwd=work, env=genv)
        git("commit", "-q", "-m", f"round {round_}", cwd=work, env=genv)
        before, _ = _git_says(bare)
        with byte_gate(int(live.url.rsplit(":", 1)[1]), min(int(fraction * PAYLOAD) + OVERHEAD, PAYLOAD)) as gate:
            url = f"http://{user}:{token}@127.0.0.1:{gate.port}/{repo}"
            git("config", "lfs.url", f"{url}.git/info/lfs", cwd=work, env=genv)
            pusher = _start_push(url, work, genv)
            wanted = max(1, int(fraction * PAYLOAD) - SLACK)
            _wait_for_temp(live, bare, wanted)
            live.crash()
            _stop_push(pusher)
        assert _temp_space(live, bare)[0] > 0, "the kill should have left a partial upload behind"

        _restart(live)
        assert _git_says(bare)[0] == before
        _assert_consistent(live, token, repo, bare)
        _assert_no_temp(live, bare)
        url = f"http://{user}:{token}@{live.host()}/{repo}"
        git("config", "lfs.url", f"{url}.git/info/lfs", cwd=work, env=genv)
        git("push", "-q", url, "main", cwd=work, env=genv)
        assert live.hub.blobs.stat(sha256_of(weights)) == PAYLOAD
        _pushed(live, token, repo, bare)
        _assert_consistent(live, token, repo, bare)
        _assert_no_temp(live, bare)
    fresh = tmp_path / "fresh"
    git("clone", "-q", f"http://{user}:{token}@{live.host()}/{repo}", str(fresh), cwd=tmp_path, env=genv)
    for round_ in range(len(FRACTIONS)):
        assert sha256_of(fresh / f"weights-{round_}.bin") == sha256_of(work / f"weights-{round_}.bin")


def _commit_body(round_: int, content: bytes) -> bytes:
    lines = [
        {"key": "header", "value": {"summary": f"round {round_}", "description": ""}},
        {"key": "file", "value": {"path": "README.md", "content": base64.b64encode(_readme(round_).encode()).decode()}},
        {"key": "file", "value": {"path": f"data-{round_}.raw", "content": base64.b64encode(content).decode()}},
    ]
    for line in lines:
        line["value"].setdefault("encoding", "base64")
    return "\n".join(json.dumps(line) for line in lines).encode() + b"\n"


def test_crash_during_commit_api_commit_then_restart_recovers(crashable: LiveHub, tmp_path: Path) -> None:
    live = crashable
    user, token = live.user()
    repo = f"{user}/committed"
    create_repo(live.url, token, repo)
    bare = live.repo_dir(repo)
    for round_, fraction in enumerate(FRACTIONS):
        content = os.urandom(PAYLOAD)
        body = _commit_body(round_, content)
        before, _ = _git_says(bare)
        errors: list[BaseException] = []

        def send(port: int, body: bytes = body, errors: list[BaseException] = errors) -> None:
            try:
                httpx.post(
                    f"http://127.0.0.1:{port}/api/models/{repo}/commit/main",
                    content=body,
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
                    timeout=DEADLINE_S,
                )
            except httpx.HTTPError as exc:  # the hub was killed under it: expected
                errors.append(exc)

        budget = min(int(fraction * len(body)) + OVERHEAD, len(body) - 1)
        with byte_gate(int(live.url.rsplit(":", 1)[1]), budget) as gate:
            sender = threading.Thread(target=send, args=(gate.port,))
            sender.start()
            wanted = max(1, int(fraction * PAYLOAD) - SLACK)
            _wait_for_temp(live, bare, wanted)
            live.crash()
            sender.join(DEADLINE_S)
        assert not sender.is_alive()
        assert errors, "the commit should have been cut off by the kill"
        assert _temp_space(live, bare)[0] > 0, "the kill should have left a spool file behind"

        _restart(live)
        assert _git_says(bare)[0] == before
        _assert_consistent(live, token, repo, bare)
        _assert_no_temp(live, bare)
        with api(live.url, token) as client:
            r = client.post(
                f"/api/models/{repo}/commit/main", content=body, headers={"Content-Type": "application/x-ndjson"}
            )
        assert r.status_code == 200, r.text
        sha, paths = _git_says(bare)
        assert r.json()["commitOid"] == sha and f"data-{round_}.raw" in paths
        _assert_consistent(live, token, repo, bare)
        _assert_no_temp(live, bare)
        with api(live.url, token) as client:
            stored = client.get(f"/{repo}/resolve/main/data-{round_}.raw")
        assert stored.content == content


def test_restart_reconciles_a_ref_moved_after_the_metadata_refresh(crashable: LiveHub, tmp_path: Path) -> None:
    """The reproducer: a kill between the ref update and the metadata refresh, made deterministic by
    moving the ref with git itself while the hub is down (as the killed writer had done)."""
    live = crashable
    user, token = live.user()
    repo = f"{user}/moved"
    create_repo(live.url, token, repo)
    bare = live.repo_dir(repo)
    old, _ = _git_says(bare)
    with api(live.url, token) as client:
        assert client.get("/api/models", params={"author": user}).json()[0]["sha"] == old
    live.crash()

    new = _commit_with_git(bare, old, _readme(7), "weights-notes.txt", b"moved by a writer that died\n")
    _restart(live)
    _assert_consistent(live, token, repo, bare)
    with api(live.url, token) as client:
        listed = client.get("/api/models", params={"author": user}).json()[0]
    assert listed["sha"] == new
    assert listed["cardData"]["round"] == "r7"


def test_failed_write_reconciles_a_ref_moved_behind_the_database(crashable: LiveHub) -> None:
    """While serving: a writer died after moving the ref (its database update lost); the next write
    that fails on that repository puts the database back in step."""
    live = crashable
    user, token = live.user()
    repo = f"{user}/behind"
    create_repo(live.url, token, repo)
    bare = live.repo_dir(repo)
    old, _ = _git_says(bare)
    new = _commit_with_git(bare, old, _readme(9), "late.txt", b"late\n")
    with api(live.url, token) as client:
        assert client.get("/api/models", params={"author": user}).json()[0]["sha"] == old  # behind git
        stale = json.dumps({"key": "header", "value": {"summary": "stale", "parentCommit": old}}) + "\n"
        stale += json.dumps({"key": "file", "value": {"path": "x.txt", "content": "eA==", "encoding": "base64"}})
        r = client.post(f"/api/models/{repo}/commit/main", content=stale + "\n")
        assert r.status_code == 409, r.text
        listed = client.get("/api/models", params={"author": user}).json()[0]
    assert listed["sha"] == new and listed["cardData"]["round"] == "r9"
    _assert_consistent(live, token, repo, bare)


def _commit_with_git(bare: Path, parent: str, readme: str, path: str, content: bytes) -> str:
    """A commit on main made with git's plumbing only (no hub), the ref moved by compare-and-swap."""

    def run(*args: str, data: bytes | None = None, env: dict[str, str] | None = None) -> str:
        proc = subprocess.run(["git", "--git-dir", str(bare), *args], input=data, capture_output=True, env=env)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.decode().strip()

    index = bare.parent / f"{bare.name}.test-index"
    env = {
        **os.environ,
        "GIT_INDEX_FILE": str(index),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    run("read-tree", parent, env=env)
    for name, data in (("README.md", readme.encode()), (path, content)):
        blob = run("hash-object", "-w", "--stdin", data=data)
        run("update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
    tree = run("write-tree", env=env)
    index.unlink()
    sha = run("commit-tree", tree, "-p", parent, "-m", "moved behind the hub's back", env=env)
    run("update-ref", "refs/heads/main", sha, parent)
    return sha
