"""The pull-through cache end to end: an upstream hub of ours behind the test's counting proxy, a downstream
hub whose mirror source is that upstream, and the real huggingface_hub, git and git-lfs clients."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import HfHubHTTPError
from sqlalchemy import func, select, update

from csghub.core.names import RepoId, RepoType
from csghub.db.models import MirrorCacheObject, Repo, utcnow
from csghub.services.identity import accounts, orgs, tokens
from csghub.services.mirrors import proxy_repos
from tests.conftest import start_hub
from tests.support.clients import api, git, setup_git_home
from tests.support.counting_proxy import CountingProxy, counting_proxy
from tests.support.files import sha256_of
from tests.support.live import LiveHub
from tests.support.waiting import wait_until

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

MiB = 1024 * 1024


SOURCES = "/api/v1/mirror/sources"


@dataclass
class Pair:
    upstream: LiveHub
    proxy: CountingProxy
    downstream: LiveHub
    user: str  # on the upstream
    token: str
    reader: str  # a token of a user on the downstream
    reader_name: str
    admin: str  # a site administrator's token on the downstream

    def source(self, **values: object) -> None:
        """Change the downstream's mirror source, as an administrator does."""
        with api(self.downstream.url, self.admin) as client:
            answer = client.put(f"{SOURCES}/up", json=values)
            assert answer.status_code == 200, answer.text

    def publish(self, repo: str, files: dict[str, bytes], *, repo_type: str = "model", private: bool = False) -> None:
        hf = HfApi(endpoint=self.upstream.url, token=self.token)
        hf.create_repo(repo, repo_type=repo_type, private=private)
        for path, data in files.items():
            hf.upload_file(path_or_fileobj=data, path_in_repo=path, repo_id=repo, repo_type=repo_type)


def _admin(hub: LiveHub) -> str:
    name = f"root{secrets.token_hex(4)}"
    accounts.create_user(hub.hub, name, email=f"{name}@example.com", is_admin=True)
    return tokens.create_token(hub.hub, name, scope="write")[0]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("proxy")
    upstream = start_hub(root / "up")
    # A cached repository read a second after its last fetch is fetched again (the default is 10 minutes).
    downstream = start_hub(
        root / "down", {"CSGHUB_OUTBOUND_ALLOW_HOSTS": "127.0.0.1", "CSGHUB_PROXY_REFRESH_SECONDS": "1"}
    )
    try:
        with counting_proxy(upstream.url) as proxy:
            user, token = upstream.user("up")
            orgs.create_org(upstream.hub, "private-org", owner=user)
            admin = _admin(downstream)
            with api(downstream.url, admin) as client:
                source = {
                    "source_name": "up",
                    "base_url": proxy.url,
                    "upstream_proxy": True,
                    "proxy_rules": [
                        {"pattern": "private-org/*", "action": "deny"},
                        {"pattern": f"models/{user}/kept-*", "action": "allow"},
                    ],
                }
                answer = client.post(SOURCES, json=source)
                assert answer.status_code == 200, answer.text
            reader, reader_token = downstream.user("down")
            yield Pair(upstream, proxy, downstream, user, token, reader_token, reader, admin)
    finally:
        upstream.stop()
        downstream.stop()


def _random(size: int) -> bytes:
    return os.urandom(size)


def _oid(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


MODEL_FILES = {
    "config.json": b'{"model_type": "gpt2"}\n',
    "weights.bin": _random(3 * MiB),
    "nested/extra.safetensors": _random(MiB + 17),
}


def test_snapshot_download_through_the_downstream_is_byte_identical(pair: Pair, tmp_path: Path) -> None:
    repo = f"{pair.user}/tiny-gpt"
    pair.publish(repo, MODEL_FILES)

    down = HfApi(endpoint=pair.downstream.url, token=pair.reader)
    up = HfApi(endpoint=pair.upstream.url, token=pair.token)
    assert sorted(down.list_repo_files(repo)) == sorted(up.list_repo_files(repo))
    assert down.model_info(repo).sha == up.model_info(repo).sha
    snap = Path(snapshot_download(repo, endpoint=pair.downstream.url, cache_dir=tmp_path / "c1"))
    for path, data in MODEL_FILES.items():
        assert sha256_of(snap / path) == _oid(data), path
    # The repository is now this hub's: public (the upstream showed it to anyone), a cache-mode mirror.
    with api(pair.downstream.url) as client:
        assert client.get(f"/api/models/{repo}").json()["id"] == repo


def test_a_cached_repository_read_again_later_gets_the_upstreams_new_commits(pair: Pair) -> None:
    repo = f"{pair.user}/growing"
    pair.publish(repo, {"one.txt": b"1\n"})
    down = HfApi(endpoint=pair.downstream.url, token=pair.reader)
    first = down.model_info(repo).sha
    HfApi(endpoint=pair.upstream.url, token=pair.token).upload_file(
        path_or_fileobj=b"2\n", path_in_repo="two.txt", repo_id=repo
    )
    new = HfApi(endpoint=pair.upstream.url).model_info(repo).sha
    assert new != first
    # Reads never wait for the refresh: they see the new commit once the background fetch brought it.
    wait_until(lambda: down.model_info(repo).sha == new, "the new commit fetched", timeout=60, poll=0.2)
    assert "two.txt" in down.list_repo_files(repo)


def test_the_upstreams_headers_never_reach_downstream_clients(pair: Pair) -> None:
    repo = f"{pair.user}/tiny-gpt"
    upstream_head = httpx.head(f"{pair.upstream.url}/{repo}/resolve/main/weights.bin")
    assert "x-xet-hash" in upstream_head.headers  # the upstream stores it as Xet and says so
    with api(pair.downstream.url) as client:
        for method in ("HEAD", "GET"):
            answer = client.request(method, f"/{repo}/resolve/main/weights.bin")
            assert answer.status_code == 200
            names = {name.lower() for name in answer.headers}
            assert not {"x-xet-hash", "link", "location", "set-cookie"} & names, names
            seen = json.dumps(dict(answer.headers))
            for foreign in (pair.upstream.host(), pair.proxy.url.removeprefix("http://")):
                assert foreign not in seen
        tree = client.get(f"/api/models/{repo}/tree/main", params={"recursive": "1"}).json()
        assert all("xetHash" not in entry for entry in tree)


def test_a_dataset_comes_through_hf_hub_download(pair: Pair, tmp_path: Path) -> None:
    repo = f"{pair.user}/tiny-data"
    data = _random(2 * MiB)
    pair.publish(repo, {"data/train.bin": data, "README.md": b"# data\n"}, repo_type="dataset")
    got = hf_hub_download(
        repo, "data/train.bin", repo_type="dataset", endpoint=pair.downstream.url, cache_dir=tmp_path / "c"
    )
    assert sha256_of(Path(got)) == _oid(data)


def test_git_clone_and_lfs_pull_of_a_cached_repository(pair: Pair, tmp_path: Path) -> None:
    repo = f"{pair.user}/git-model"
    files = {"a.bin": _random(MiB), "b.bin": _random(MiB // 2), "notes.txt": b"hello\n"}
    pair.publish(repo, files)
    env = setup_git_home(tmp_path / "home")
    env["GIT_LFS_SKIP_SMUDGE"] = "1"
    git("clone", f"{pair.downstream.url}/{repo}", "work", cwd=tmp_path, env=env)
    git("lfs", "pull", cwd=tmp_path / "work", env=env)
    for path, data in files.items():
        assert sha256_of(tmp_path / "work" / path) == _oid(data), path


def test_git_lfs_batch_answers_before_the_object_arrived_and_its_link_streams_it(pair: Pair) -> None:
    """A large object must not hold git-lfs's batch request until all of it came from the upstream: the
    batch answers once the first bytes did, and its download link streams the rest as it arrives."""
    repo = f"{pair.user}/slow-upstream"
    data = _random(4 * MiB)
    pair.publish(repo, {"weights.bin": data})
    with api(pair.downstream.url) as client:
        client.get(f"/api/models/{repo}").raise_for_status()
    held = threading.Event()
    pair.proxy.hold_objects = held  # the upstream sends half the object, then waits for the test
    try:
        with httpx.Client(base_url=pair.downstream.url, timeout=30) as client:
            batch = client.post(
                f"/{repo}.git/info/lfs/objects/batch",
                json={"operation": "download", "objects": [{"oid": _oid(data), "size": len(data)}]},
                headers={"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"},
            )
            assert batch.status_code == 200, batch.text
            assert not held.is_set()  # answered while the rest of the object was still held upstream
            action = batch.json()["objects"][0]["actions"]["download"]
            with client.stream("GET", action["href"], headers=action.get("header") or {}) as streamed:
                assert streamed.status_code == 200 and streamed.headers["content-length"] == str(len(data))
                body = bytearray()
                for chunk in streamed.iter_bytes():
                    body += chunk
                    if len(body) >= MiB and not held.is_set():
                        held.set()  # the first bytes came through before the upstream sent the rest
        assert bytes(body) == data
    finally:
        held.set()
        pair.proxy.hold_objects = None
    assert pair.proxy.count(f"/lfs/objects/{_oid(data)}") == 1


def test_concurrent_downloads_of_one_object_make_one_upstream_fetch(pair: Pair) -> None:
    repo = f"{pair.user}/popular"
    data = _random(12 * MiB)
    pair.publish(repo, {"model.bin": data})
    with api(pair.downstream.url) as client:
        client.get(f"/api/models/{repo}").raise_for_status()  # the repository first: the race is the object's
    bodies: list[bytes] = []
    start = threading.Barrier(6)

    def download() -> None:
        start.wait(timeout=30)
        answer = httpx.get(f"{pair.downstream.url}/{repo}/resolve/main/model.bin", timeout=120)
        assert answer.status_code == 200
        bodies.append(answer.content)

    threads = [threading.Thread(target=download) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert len(bodies) == 6 and all(_oid(body) == _oid(data) for body in bodies)
    assert pair.proxy.count(f"/lfs/objects/{_oid(data)}") == 1


def test_a_cached_repository_is_a_read_only_mirror_even_to_administrators(pair: Pair) -> None:
    repo = f"{pair.user}/tiny-gpt"
    with api(pair.downstream.url, pair.admin) as client:
        mirror = client.get(f"/api/v1/models/{repo}/mirror").json()["data"]
        assert mirror["mode"] == "cache" and mirror["mirror_source"]["source_name"] == "up"
    with pytest.raises(HfHubHTTPError) as refused:
        HfApi(endpoint=pair.downstream.url, token=pair.admin).upload_file(
            path_or_fileobj=b"mine\n", path_in_repo="mine.txt", repo_id=repo
        )
    assert refused.value.response.status_code == 403 and "mirror" in refused.value.response.text


def test_an_allow_rule_makes_the_cached_repository_a_scheduled_mirror(pair: Pair) -> None:
    repo = f"{pair.user}/kept-model"
    pair.publish(repo, {"k.txt": b"k\n"})
    with api(pair.downstream.url, pair.admin) as client:
        assert client.get(f"/api/models/{repo}").status_code == 200
        mirror = client.get(f"/api/v1/models/{repo}/mirror").json()["data"]
    assert mirror["mode"] == "sync" and mirror["interval"] == 86400 and mirror["next_sync_at"]


def test_a_second_process_making_the_same_repository_leaves_the_first_and_no_leftovers(pair: Pair) -> None:
    # Another worker of the same hub (this process, on the same database and disk) that missed the
    # repository a moment ago and fetched it too: the database's unique name stops it.
    hub = pair.downstream.hub
    repo = RepoId.parse(f"{pair.user}/tiny-gpt")
    assert proxy_repos.make_repo(hub, proxy_repos.upstream_sources(hub)[0], RepoType.MODEL, repo, "cache") is True
    assert not [name for name in os.listdir(hub.settings.tmp_dir) if name.startswith("proxy-")]
    with hub.db() as session:
        assert session.scalar(select(func.count()).select_from(Repo).where(Repo.name == "tiny-gpt")) == 1


def test_git_lfs_is_told_per_object_when_one_is_over_the_limit(pair: Pair) -> None:
    repo = f"{pair.user}/lfs-limit"
    small, big = _random(1000), _random(MiB + 1)
    pair.publish(repo, {"small.bin": small, "big.bin": big})
    with api(pair.downstream.url) as client:
        client.get(f"/api/models/{repo}").raise_for_status()
        pair.source(object_max_bytes=MiB)
        try:
            answer = client.post(
                f"/{repo}.git/info/lfs/objects/batch",
                json={
                    "operation": "download",
                    "objects": [{"oid": _oid(small), "size": len(small)}, {"oid": _oid(big), "size": len(big)}],
                },
                headers={"Accept": "application/vnd.git-lfs+json"},
            )
        finally:
            pair.source(object_max_bytes=0)
    assert answer.status_code == 200, answer.text
    found = {entry["oid"]: entry for entry in answer.json()["objects"]}
    assert "download" in found[_oid(small)]["actions"]
    assert found[_oid(big)]["error"]["code"] == 413 and str(MiB) in found[_oid(big)]["error"]["message"]


def test_a_deny_rule_keeps_names_out(pair: Pair) -> None:
    pair.publish("private-org/secret-plans", {"x.txt": b"x\n"})
    before = pair.proxy.count("private-org")
    with api(pair.downstream.url, pair.reader) as client:
        answer = client.get("/api/models/private-org/secret-plans")
    assert answer.status_code == 404 and answer.json()["code"] == "RepoNotFound"
    assert pair.proxy.count("private-org") == before  # never asked of the upstream


def test_a_local_users_namespace_is_never_filled_from_the_upstream(pair: Pair) -> None:
    # The upstream has a repository under the name of a user of the downstream: it stays out.
    upstream_admin = pair.upstream.hub
    accounts.create_user(upstream_admin, pair.reader_name, email=f"{pair.reader_name}@example.org")
    their_token = tokens.create_token(upstream_admin, pair.reader_name, scope="write")[0]
    HfApi(endpoint=pair.upstream.url, token=their_token).create_repo(f"{pair.reader_name}/squatted")
    with api(pair.downstream.url, pair.reader) as client:
        answer = client.get(f"/api/models/{pair.reader_name}/squatted")
    assert answer.status_code == 404 and answer.json()["code"] == "RepoNotFound"
    assert pair.proxy.count(f"{pair.reader_name}/squatted") == 0


def test_a_private_upstream_repository_is_not_found_without_the_token(pair: Pair) -> None:
    repo = f"{pair.user}/hidden"
    pair.publish(repo, {"x.txt": b"x\n"}, private=True)
    with api(pair.downstream.url, pair.reader) as client:
        answer = client.get(f"/api/models/{repo}")
        assert answer.status_code == 404 and answer.json()["code"] == "RepoNotFound"
        assert client.get(f"/{repo}/resolve/main/x.txt").status_code == 404


def test_what_only_the_sources_token_can_read_is_cached_for_signed_in_users_only(pair: Pair) -> None:
    repo = f"{pair.user}/members-only"
    data = _random(MiB // 4)
    pair.publish(repo, {"w.bin": data}, private=True)
    pair.source(token=pair.token)
    try:
        with api(pair.downstream.url, pair.reader) as client:
            info = client.get(f"/api/models/{repo}")
            assert info.status_code == 200 and info.json()["private"] is True
            assert _oid(client.get(f"/{repo}/resolve/main/w.bin").content) == _oid(data)
        with api(pair.downstream.url) as anonymous:
            assert anonymous.get(f"/api/models/{repo}").status_code == 401  # as for any repository it may not see
            assert anonymous.get(f"/{repo}/resolve/main/w.bin").status_code == 401
    finally:
        pair.source(token="")


def test_an_object_over_the_sources_limit_is_refused_with_413(pair: Pair) -> None:
    repo = f"{pair.user}/too-big"
    pair.publish(repo, {"big.bin": _random(2 * MiB)})
    pair.source(object_max_bytes=MiB)
    try:
        answer = httpx.get(f"{pair.downstream.url}/{repo}/resolve/main/big.bin")
    finally:
        pair.source(object_max_bytes=0)
    assert answer.status_code == 413
    assert answer.json()["code"] == "TooLarge" and str(MiB) in answer.json()["error"]


def test_a_transfer_cut_mid_way_breaks_the_clients_body_and_keeps_nothing(pair: Pair) -> None:
    repo = f"{pair.user}/cut"
    data = _random(3 * MiB)
    pair.publish(repo, {"w.bin": data})
    pair.proxy.cut_objects = True
    try:
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{pair.downstream.url}/{repo}/resolve/main/w.bin", timeout=60).raise_for_status()
    finally:
        pair.proxy.cut_objects = False
    assert pair.downstream.hub.blobs.stat(_oid(data)) is None
    again = httpx.get(f"{pair.downstream.url}/{repo}/resolve/main/w.bin", timeout=60)
    assert again.status_code == 200 and _oid(again.content) == _oid(data)


def test_least_recently_used_objects_are_evicted_and_fetched_again(pair: Pair) -> None:
    repo = f"{pair.user}/evict"
    first, second = _random(MiB), _random(MiB)
    pair.publish(repo, {"first.bin": first, "second.bin": second})
    with pair.downstream.hub.db() as session:
        held = sum(session.scalars(select(MirrorCacheObject.size)))
        # What the other tests cached counts against the cap but is used "later": these two compete.
        session.execute(update(MirrorCacheObject).values(last_used_at=utcnow() + timedelta(days=1)))
    pair.source(cache_max_bytes=held + MiB + MiB // 2)  # room for one of the two, not both
    try:
        blobs = pair.downstream.hub.blobs
        for name, data in (("first.bin", first), ("second.bin", second)):
            got = httpx.get(f"{pair.downstream.url}/{repo}/resolve/main/{name}", timeout=60)
            assert _oid(got.content) == _oid(data)
            # The client may have its last bytes a moment before storage has published them.
            wait_until(lambda d=data: blobs.stat(_oid(d)) == MiB, f"{name} stored", timeout=30)
        wait_until(lambda: blobs.stat(_oid(first)) is None, "the least recently used evicted", timeout=30)
        assert blobs.stat(_oid(second)) == MiB
        with pair.downstream.hub.db() as session:
            assert session.get(MirrorCacheObject, _oid(first)) is None
        again = httpx.get(f"{pair.downstream.url}/{repo}/resolve/main/first.bin", timeout=60)
        assert _oid(again.content) == _oid(first)
        assert pair.proxy.count(f"/lfs/objects/{_oid(first)}") == 2
    finally:
        pair.source(cache_max_bytes=0)


def test_what_was_cached_is_served_with_the_upstream_stopped(pair: Pair, tmp_path: Path) -> None:
    repo = f"{pair.user}/tiny-gpt"
    pair.upstream.stop()
    snap = Path(snapshot_download(repo, endpoint=pair.downstream.url, cache_dir=tmp_path / "c2"))
    for path, data in MODEL_FILES.items():
        assert sha256_of(snap / path) == _oid(data), path
    with api(pair.downstream.url, pair.reader) as client:
        answer = client.get(f"/api/models/{pair.user}/never-cached")
        assert answer.status_code == 404 and answer.json()["code"] == "RepoNotFound"
        # An object the cache never fetched: a clear 502, never a 500 or a body that breaks.
        missing = client.get(f"/{pair.user}/lfs-limit/resolve/main/big.bin")
        assert missing.status_code == 502 and missing.json()["code"] == "UpstreamUnavailable"
        assert "unreachable" in missing.json()["error"]
