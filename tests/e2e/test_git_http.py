"""git and git-lfs over smart HTTP against a live hub."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.clients import api, create_repo, git, setup_git_home
from tests.support.files import sha256_of
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)


@pytest.fixture
def genv(tmp_path: Path) -> dict[str, str]:
    return setup_git_home(tmp_path / "home")


def _url(live: LiveHub, path: str, user: str = "", token: str = "") -> str:
    creds = f"{user}:{token}@" if token else ""
    return f"http://{creds}{live.host()}/{path}"


def test_git_clone_push_lfs_binary_roundtrip_is_byte_identical(live: LiveHub, tmp_path: Path, genv: dict) -> None:
    user, token = live.user()
    repo = f"{user}/roundtrip"
    create_repo(live.url, token, repo)
    work = tmp_path / "work"
    git("clone", _url(live, f"{repo}.git", user, token), str(work), cwd=tmp_path, env=genv)
    assert not (work / "README.md").exists(), "a new repository holds only .gitattributes, as on the Hub"
    assert "*.bin filter=lfs" in (work / ".gitattributes").read_text()

    (work / "weights.bin").write_bytes(os.urandom(30 * 1024 * 1024))
    (work / "notes.txt").write_text("small text file\n")
    git("add", ".", cwd=work, env=genv)
    git("commit", "-m", "add weights", cwd=work, env=genv)
    git("push", "origin", "main", cwd=work, env=genv)
    assert live.hub.blobs.stat(sha256_of(work / "weights.bin")) == 30 * 1024 * 1024

    fresh = tmp_path / "fresh"
    git("clone", _url(live, repo), str(fresh), cwd=tmp_path, env=genv)
    assert sha256_of(fresh / "weights.bin") == sha256_of(work / "weights.bin")
    assert (fresh / "notes.txt").read_text() == "small text file\n"
    lfs_files = git("lfs", "ls-files", cwd=fresh, env=genv).stdout
    assert "weights.bin" in lfs_files

    # The server stored a pointer in git, the bytes in the blob store, and its repo is consistent.
    bare = live.repo_dir(repo)
    fsck = subprocess.run(["git", "--git-dir", str(bare), "fsck", "--strict"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    size = subprocess.run(
        ["git", "--git-dir", str(bare), "cat-file", "-s", "main:weights.bin"], capture_output=True, text=True
    )
    assert int(size.stdout) < 200


@pytest.mark.parametrize("version", ["0", "2"])
def test_git_clone_and_fetch_with_protocol_version(live: LiveHub, tmp_path: Path, genv: dict, version: str) -> None:
    user, token = live.user()
    repo = f"{user}/proto{version}"
    create_repo(live.url, token, repo)
    work = tmp_path / "w"
    git("-c", f"protocol.version={version}", "clone", _url(live, repo, user, token), str(work), cwd=tmp_path, env=genv)
    (work / "a.txt").write_text("a\n")
    git("add", "a.txt", cwd=work, env=genv)
    git("commit", "-m", "a", cwd=work, env=genv)
    git("-c", f"protocol.version={version}", "push", "origin", "main", cwd=work, env=genv)
    other = tmp_path / "o"
    git("-c", f"protocol.version={version}", "clone", _url(live, repo), str(other), cwd=tmp_path, env=genv)
    assert (other / "a.txt").read_text() == "a\n"
    trace = git(
        "-c",
        f"protocol.version={version}",
        "ls-remote",
        _url(live, repo),
        cwd=tmp_path,
        env={**genv, "GIT_TRACE_PACKET": "1"},
    )
    assert ("version 2" in trace.stderr) == (version == "2")


def test_git_push_new_branch_and_tag_are_listed_by_api(live: LiveHub, tmp_path: Path, genv: dict) -> None:
    user, token = live.user()
    repo = f"{user}/branches"
    create_repo(live.url, token, repo)
    work = tmp_path / "w"
    git("clone", _url(live, repo, user, token), str(work), cwd=tmp_path, env=genv)
    git("checkout", "-b", "feature/x", cwd=work, env=genv)
    (work / "f.txt").write_text("feature\n")
    git("add", "f.txt", cwd=work, env=genv)
    git("commit", "-m", "feature", cwd=work, env=genv)
    git("push", "origin", "feature/x", cwd=work, env=genv)
    git("tag", "v1.0", cwd=work, env=genv)
    git("push", "origin", "v1.0", cwd=work, env=genv)
    head = git("rev-parse", "HEAD", cwd=work, env=genv).stdout.strip()
    with api(live.url, token) as client:
        refs = client.get(f"/api/models/{repo}/refs").json()
        branches = {b["name"]: b["targetCommit"] for b in refs["branches"]}
        tags = {t["name"]: t["targetCommit"] for t in refs["tags"]}
        assert branches["feature/x"] == head and tags["v1.0"] == head
        raw = client.get(f"/{repo}/resolve/feature%2Fx/f.txt")
        assert raw.text == "feature\n" and raw.headers["x-repo-commit"] == head


def test_git_anonymous_push_is_refused_and_changes_nothing(live: LiveHub, tmp_path: Path, genv: dict) -> None:
    user, token = live.user()
    repo = f"{user}/anon"
    create_repo(live.url, token, repo)
    work = tmp_path / "w"
    git("clone", _url(live, repo), str(work), cwd=tmp_path, env=genv)
    before = git("rev-parse", "HEAD", cwd=work, env=genv).stdout.strip()
    (work / "x.txt").write_text("x\n")
    git("add", "x.txt", cwd=work, env=genv)
    git("commit", "-m", "x", cwd=work, env=genv)
    push = git("push", "origin", "main", cwd=work, env=genv, check=False)
    assert push.returncode != 0
    assert "Authentication failed" in push.stderr or "could not read Username" in push.stderr
    with api(live.url) as client:
        assert client.get(f"/api/models/{repo}").json()["sha"] == before


def test_git_read_token_cannot_push(live: LiveHub, tmp_path: Path, genv: dict) -> None:
    from csghub.services.identity import tokens

    user, token = live.user()
    read_token = tokens.create_token(live.hub, user, name="ro", scope="read")[0]
    repo = f"{user}/ro"
    create_repo(live.url, token, repo)
    work = tmp_path / "w"
    git("clone", _url(live, repo, user, read_token), str(work), cwd=tmp_path, env=genv)
    (work / "x.txt").write_text("x\n")
    git("add", "x.txt", cwd=work, env=genv)
    git("commit", "-m", "x", cwd=work, env=genv)
    push = git("push", "origin", "main", cwd=work, env=genv, check=False)
    assert push.returncode != 0 and "403" in push.stderr


def test_git_private_repo_is_invisible_without_access(live: LiveHub, tmp_path: Path, genv: dict) -> None:
    owner, token = live.user()
    stranger, stranger_token = live.user()
    repo = f"{owner}/secret"
    create_repo(live.url, token, repo, private=True)
    anonymous = git("clone", _url(live, repo), str(tmp_path / "a"), cwd=tmp_path, env=genv, check=False)
    assert anonymous.returncode != 0 and not (tmp_path / "a").exists()
    other = git(
        "clone", _url(live, repo, stranger, stranger_token), str(tmp_path / "b"), cwd=tmp_path, env=genv, check=False
    )
    assert other.returncode != 0 and "not found" in other.stderr.lower()
    git("clone", _url(live, repo, owner, token), str(tmp_path / "c"), cwd=tmp_path, env=genv)
    assert (tmp_path / "c" / ".gitattributes").exists()
    with api(live.url, stranger_token) as client:
        r = client.get(f"/api/models/{repo}")
        assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"
    with api(live.url) as client:
        r = client.get(f"/api/models/{repo}")
        assert r.status_code == 401 and r.headers["x-error-code"] == "RepoNotFound"
        missing = client.get(f"/api/models/{owner}/does-not-exist")
        # A missing repo and an invisible one answer alike, so probing reveals nothing.
        assert missing.status_code == 401 and missing.headers["x-error-code"] == "RepoNotFound"


def test_git_push_of_lfs_pointer_without_object_is_rejected(live: LiveHub, tmp_path: Path, genv: dict) -> None:
    user, token = live.user()
    repo = f"{user}/dangling"
    create_repo(live.url, token, repo)
    work = tmp_path / "w"
    git("clone", _url(live, repo, user, token), str(work), cwd=tmp_path, env=genv)
    before = git("rev-parse", "HEAD", cwd=work, env=genv).stdout.strip()
    oid = hashlib.sha256(b"never uploaded").hexdigest()
    (work / "pointer.txt").write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 14\n")
    git("add", "pointer.txt", cwd=work, env=genv)
    git("commit", "-m", "dangling pointer", cwd=work, env=genv)
    push = git("push", "origin", "main", cwd=work, env=genv, check=False)
    assert push.returncode != 0
    assert "never uploaded" in push.stderr and oid in push.stderr
    with api(live.url, token) as client:
        assert client.get(f"/api/models/{repo}").json()["sha"] == before
