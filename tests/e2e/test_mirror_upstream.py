"""The Upstream client against a second live hub of ours: repository info, tree listings with LFS
objects, LFS downloads through the batch API that resume and verify, errors mapped to their codes, the
bandwidth limit, and git pinned to the checked address."""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from csghub.core.errors import Conflict
from csghub.net.bandwidth import RateLimiter
from csghub.net.client import git_connection_config
from csghub.net.guard import AddressRules, OutboundRefused
from csghub.services.mirrors import sources
from csghub.services.mirrors.sources import SourceSpec
from csghub.services.mirrors.upstream import (
    Upstream,
    UpstreamCorrupt,
    UpstreamForbidden,
    UpstreamNotFound,
)
from csghub.services.permissions import Actor
from tests.conftest import start_hub
from tests.support.clients import client_env
from tests.support.live import LiveHub

MiB = 1024 * 1024
LOOPBACK = AddressRules(allow_hosts=["127.0.0.1"])


@dataclass
class World:
    up: LiveHub
    down: LiveHub
    owner: str
    token: str  # the owner's, on the upstream
    repo: str  # private, with an LFS file
    data: bytes
    source_id: int  # on `down`, pointing at `up` with the owner's token


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("mirror-upstream")
    up = start_hub(root / "up")
    down = start_hub(root / "down", {"CSGHUB_OUTBOUND_ALLOW_HOSTS": "127.0.0.1"})
    try:
        owner, token = up.user("owner")
        repo = f"{owner}/weights"
        data = os.urandom(2 * MiB + 17)
        hf = HfApi(endpoint=up.url, token=token)
        hf.create_repo(repo, private=True)
        hf.upload_file(path_or_fileobj=data, path_in_repo="model.safetensors", repo_id=repo)
        hf.upload_file(path_or_fileobj=b"# weights\n", path_in_repo="README.md", repo_id=repo)
        admin = Actor(user_id=0, name="root", is_admin=True)
        spec = SourceSpec(name="up", base_url=up.url, token=token)
        source_id = sources.create_source(down.hub, admin, spec).id
        yield World(up, down, owner, token, repo, data, source_id)
    finally:
        down.stop()
        up.stop()


@pytest.fixture
def upstream(world: World) -> Iterator[Upstream]:
    with sources.upstream(world.down.hub, world.source_id) as client:
        yield client


def _lfs_href(upstream: Upstream, repo: str, data: bytes) -> tuple[str, dict[str, str]]:
    [answer] = upstream.lfs_batch("model", repo, [(hashlib.sha256(data).hexdigest(), len(data))])
    download = answer["actions"]["download"]
    return download["href"], download.get("header", {})


def test_repo_info_of_private_repo_with_the_sources_token(world: World, upstream: Upstream) -> None:
    info = upstream.repo_info("model", world.repo)
    assert info["id"] == world.repo and info["private"] is True
    assert sorted(s["rfilename"] for s in info["siblings"]) == [".gitattributes", "README.md", "model.safetensors"]
    assert upstream.repo_info("model", world.repo, revision=info["sha"])["sha"] == info["sha"]


def test_list_tree_gives_lfs_sha256_and_size(world: World, upstream: Upstream) -> None:
    entries = {e.path: e for e in upstream.list_tree("model", world.repo, "main")}
    weights = entries["model.safetensors"]
    assert weights.type == "file" and weights.size == len(world.data)
    assert weights.lfs_sha256 == hashlib.sha256(world.data).hexdigest() and weights.lfs_size == len(world.data)
    assert entries["README.md"].lfs_sha256 is None and entries["README.md"].size == len(b"# weights\n")


def test_download_through_batch_resumes_from_half_written_part(
    world: World, upstream: Upstream, tmp_path: Path
) -> None:
    href, header = _lfs_href(upstream, world.repo, world.data)
    dest = tmp_path / "objects" / "weights"
    dest.parent.mkdir()
    half = len(world.data) // 2
    (tmp_path / "objects" / "weights.part").write_bytes(world.data[:half])
    moved: list[int] = []
    sha = hashlib.sha256(world.data).hexdigest()
    upstream.download(href, dest, expected_sha256=sha, size=len(world.data), headers=header, progress=moved.append)
    assert dest.read_bytes() == world.data
    assert sum(moved) == len(world.data) - half, "only the missing half travelled"
    assert not (tmp_path / "objects" / "weights.part").exists()


def test_download_with_wrong_sha256_keeps_nothing(world: World, upstream: Upstream, tmp_path: Path) -> None:
    href, header = _lfs_href(upstream, world.repo, world.data)
    dest = tmp_path / "weights"
    with pytest.raises(UpstreamCorrupt) as caught:
        upstream.download(href, dest, expected_sha256="0" * 64, size=len(world.data), headers=header)
    assert caught.value.code == "UpstreamCorrupt" and "sha256" in caught.value.message
    assert list(tmp_path.iterdir()) == []


def test_download_of_listed_size_that_differs_is_corrupt(world: World, upstream: Upstream, tmp_path: Path) -> None:
    href, header = _lfs_href(upstream, world.repo, world.data)
    sha = hashlib.sha256(world.data).hexdigest()
    with pytest.raises(UpstreamCorrupt, match="more bytes than listed"):
        upstream.download(href, tmp_path / "w", expected_sha256=sha, size=len(world.data) - 1, headers=header)
    assert list(tmp_path.iterdir()) == []


def test_download_of_plain_file_by_resolve_path(world: World, upstream: Upstream, tmp_path: Path) -> None:
    readme = b"# weights\n"
    path = upstream.resolve_path("model", world.repo, "main", "README.md")
    upstream.download(
        path, tmp_path / "README.md", expected_sha256=hashlib.sha256(readme).hexdigest(), size=len(readme)
    )
    assert (tmp_path / "README.md").read_bytes() == readme


def test_missing_repo_and_private_repo_without_token_are_not_found(world: World, upstream: Upstream) -> None:
    with pytest.raises(UpstreamNotFound) as caught:
        upstream.repo_info("model", f"{world.owner}/absent")
    assert caught.value.status == 404 and caught.value.upstream_status == 404
    with Upstream(world.up.url, LOOPBACK) as anonymous, pytest.raises(UpstreamNotFound):
        anonymous.list_tree("model", world.repo, "main")


def test_bad_token_and_gated_repo_are_forbidden(world: World, tmp_path: Path) -> None:
    with Upstream(world.up.url, LOOPBACK, token="not-a-token") as wrong, pytest.raises(UpstreamForbidden) as caught:
        wrong.repo_info("model", world.repo)
    assert caught.value.upstream_status == 401 and "token" in caught.value.message
    gated = f"{world.owner}/gated"
    hf = HfApi(endpoint=world.up.url, token=world.token)
    hf.create_repo(gated)
    hf.upload_file(path_or_fileobj=b"secret\n", path_in_repo="data.txt", repo_id=gated)
    hf.update_repo_settings(gated, gated="manual")
    _stranger, stranger_token = world.up.user("stranger")
    with Upstream(world.up.url, LOOPBACK, token=stranger_token) as stranger, pytest.raises(UpstreamForbidden) as gate:
        path = stranger.resolve_path("model", gated, "main", "data.txt")
        stranger.download(path, tmp_path / "data.txt", expected_sha256="0" * 64, size=7)
    assert gate.value.status == 403 and gate.value.upstream_status == 403
    assert not (tmp_path / "data.txt").exists()


def test_bandwidth_limit_is_honoured(world: World, upstream: Upstream, tmp_path: Path) -> None:
    href, header = _lfs_href(upstream, world.repo, world.data)
    started = time.monotonic()
    sha = hashlib.sha256(world.data).hexdigest()
    upstream.download(
        href, tmp_path / "w", expected_sha256=sha, size=len(world.data), headers=header, limiter=RateLimiter(MiB)
    )
    took = time.monotonic() - started
    assert (tmp_path / "w").stat().st_size > 2 * MiB
    assert 1.8 <= took < 15, f"2 MiB at 1 MiB/s took {took:.2f} s"


def test_git_fetch_pinned_to_the_checked_address_with_the_token(
    world: World, upstream: Upstream, tmp_path: Path
) -> None:
    """What a sync runs: git ls-remote of a private repository, the token in a header, not the URL."""
    url = upstream.git_url("model", world.repo)
    assert url == f"{world.up.url}/{world.repo}"
    env = client_env(tmp_path / "home", upstream.git_env(url))  # the source's sealed token, opened
    assert world.token not in url
    listed = subprocess.run(["git", "ls-remote", url], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "refs/heads/main" in listed.stdout
    assert (
        client_env(tmp_path / "h", upstream.git_env(url))["GIT_CONFIG_VALUE_6"]
        == f"Authorization: Bearer {world.token}"
    )
    anonymous = client_env(tmp_path / "home2", git_connection_config(url, LOOPBACK))
    refused = subprocess.run(["git", "ls-remote", url], env=anonymous, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "refs/heads/main" not in refused.stdout


def test_upstream_of_a_source_whose_token_no_longer_opens_is_refused(world: World) -> None:
    name = f"stale{secrets.token_hex(3)}"
    admin = Actor(user_id=0, name="root", is_admin=True)
    view = sources.create_source(world.down.hub, admin, SourceSpec(name=name, base_url=world.up.url, token="t0k"))
    other = replace(world.down.hub, settings=replace(world.down.hub.settings, secret_key="another key"))
    with pytest.raises(Conflict, match="no longer decrypts"):
        sources.upstream(other, view.id)


def test_update_rechecks_the_url_only_when_it_changes(world: World) -> None:
    """Rules tightened after a source was saved: its other fields still change; a new URL is checked (and
    every connection is, whatever the saved URL)."""
    admin = Actor(user_id=0, name="root", is_admin=True)
    name = f"kept{secrets.token_hex(3)}"
    sources.create_source(world.down.hub, admin, SourceSpec(name=name, base_url=world.up.url))
    strict = replace(world.down.hub, settings=replace(world.down.hub.settings, outbound_allow_hosts=()))
    assert sources.update_source(strict, admin, name, {"bandwidth_bytes_per_s": 5}).bandwidth_bytes_per_s == 5
    with pytest.raises(OutboundRefused):
        sources.update_source(strict, admin, name, {"base_url": world.up.url + "/x"})
    view = sources.get_source(strict, admin, name)
    with sources.upstream(strict, view.id) as refused, pytest.raises(OutboundRefused):
        refused.repo_info("model", world.repo)
