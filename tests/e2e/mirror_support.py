"""Two live hubs, one the upstream of the other, and what the mirror tests do with them: repositories made
on the upstream with the real git and git-lfs, a mirror source on the downstream, and bounded waits for
a mirror's task to end."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from csghub.services.identity import accounts, tokens
from csghub.services.mirrors.sources import SourceSpec, create_source
from csghub.services.permissions import Actor
from tests.support.clients import api, create_repo, git, setup_git_home
from tests.support.live import LiveHub

ENDED = ("finished", "failed", "cancelled")
DOWNSTREAM_ENV = {"CSGHUB_OUTBOUND_ALLOW_HOSTS": "127.0.0.1"}


@dataclass
class Pair:
    upstream: LiveHub
    downstream: LiveHub
    up_user: str
    up_token: str
    admin: str
    admin_token: str
    genv: dict[str, str]
    work: Path


def make_pair(factory: Any, tmp_path: Path, downstream_env: dict[str, str] | None = None) -> Pair:
    upstream = factory()
    downstream = factory({**DOWNSTREAM_ENV, **(downstream_env or {})})
    up_user, up_token = upstream.user("up")
    admin = f"root{os.urandom(3).hex()}"
    accounts.create_user(downstream.hub, admin, email=f"{admin}@example.com", is_admin=True)
    admin_token = tokens.create_token(downstream.hub, admin, scope="write")[0]
    return Pair(
        upstream, downstream, up_user, up_token, admin, admin_token, setup_git_home(tmp_path / "home"), tmp_path
    )


def add_source(pair: Pair, name: str, base_url: str = "", **options: Any) -> None:
    admin = Actor(user_id=0, name="root", is_admin=True)
    create_source(pair.downstream.hub, admin, SourceSpec(name=name, base_url=base_url or pair.upstream.url, **options))


def push_files(pair: Pair, repo: str, files: dict[str, bytes], *, repo_type: str = "model", create: bool = True) -> str:
    """Commit `files` to the upstream repository with git and git-lfs (*.bin, *.safetensors, *.parquet are LFS
    by the new repository's .gitattributes); returns the new head."""
    if create:
        create_repo(pair.upstream.url, pair.up_token, repo, repo_type=repo_type)
    prefix = "" if repo_type == "model" else f"{repo_type}s/"
    url = f"http://{pair.up_user}:{pair.up_token}@{pair.upstream.host()}/{prefix}{repo}.git"
    work = pair.work / f"clone-{hashlib.sha1(repo.encode()).hexdigest()[:8]}-{time.monotonic_ns()}"
    git("clone", url, str(work), cwd=pair.work, env=pair.genv)
    for path, data in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_bytes(data)
    git("add", ".", cwd=work, env=pair.genv)
    git("commit", "-m", f"add {len(files)} file(s)", cwd=work, env=pair.genv)
    git("push", "origin", "main", cwd=work, env=pair.genv)
    return git("rev-parse", "HEAD", cwd=work, env=pair.genv).stdout.strip()


def create_mirror(pair: Pair, target: str, body: dict[str, Any], repo_type: str = "model") -> httpx.Response:
    with api(pair.downstream.url, pair.admin_token) as client:
        return client.post(f"/api/v1/{repo_type}s/{target}/mirror", json=body)


def mirror_of(pair: Pair, target: str, repo_type: str = "model") -> dict[str, Any]:
    with api(pair.downstream.url, pair.admin_token) as client:
        answer = client.get(f"/api/v1/{repo_type}s/{target}/mirror")
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()["data"]
        return data


def wait_for_task(pair: Pair, target: str, *, repo_type: str = "model", timeout: float = 180.0) -> dict[str, Any]:
    """The mirror's task once it ended (bounded); fails naming its last state."""
    deadline = time.monotonic() + timeout
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        seen = mirror_of(pair, target, repo_type)
        task = seen.get("task") or {}
        if task.get("state") in ENDED:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"the mirror's task did not end in {timeout:g} s: {seen}")


def refs_of(hub: LiveHub, repo: str, genv: dict[str, str], cwd: Path, repo_type: str = "model") -> dict[str, str]:
    prefix = "" if repo_type == "model" else f"{repo_type}s/"
    out = git("ls-remote", f"{hub.url}/{prefix}{repo}.git", cwd=cwd, env=genv).stdout
    pairs = (line.split("\t") for line in out.splitlines())
    # Branches and tags: each hub makes its own refs/convert/parquet for the dataset viewer.
    return {ref: sha for sha, ref in pairs if ref.startswith(("refs/heads/", "refs/tags/"))}
