"""Xet storage end to end: the real huggingface_hub with hf_xet against a live hub, and bad input."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, snapshot_download

from csghub.xet.hashes import chunk_hash, file_hash, sha256_to_shard, to_hex, verification_hash, xorb_hash
from csghub.xet.shards import ChunkEntry, FileBlock, Shard, Term, XorbBlock, serialize_shard
from csghub.xet.xorbs import serialize_xorb
from tests.support.clients import api, create_repo, git, setup_git_home
from tests.support.files import sha256_of
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

SIZES = {"tiny.bin": 4, "small.bin": 12, "mid.bin": 100_000, "three.bin": 3_000_000, "big.bin": 200 * 1024 * 1024}


def _client_env(tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp),
        "HF_HOME": str(tmp / "hf"),
        "HF_XET_CACHE": str(tmp / "xet"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        **extra,
    }


def test_xet_upload_folder_and_downloads_are_byte_identical(
    live: LiveHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hf_xet  # noqa: F401 - the default client, as users have it

    user, token = live.user()
    repo = f"{user}/xet-sizes"
    folder = tmp_path / "up"
    folder.mkdir()
    for name, size in SIZES.items():
        with open(folder / name, "wb") as fh:
            for _ in range(size // (1 << 20)):
                fh.write(os.urandom(1 << 20))
            fh.write(os.urandom(size % (1 << 20)))
    hf = HfApi(endpoint=live.url, token=token)
    hf.create_repo(repo)
    monkeypatch.setenv("HF_XET_CACHE", str(tmp_path / "xet-up"))
    hf.upload_folder(repo_id=repo, folder_path=folder, commit_message="xet upload")

    with api(live.url, token) as client:
        for name, size in SIZES.items():
            head = client.head(f"/{repo}/resolve/main/{name}")
            assert head.headers["x-linked-size"] == str(size)
            assert len(head.headers["x-xet-hash"]) == 64 and 'rel="xet-auth"' in head.headers["link"]

    tree = {
        e["path"]: e
        for e in httpx.get(
            f"{live.url}/api/models/{repo}/tree/main", headers={"Authorization": f"Bearer {token}"}
        ).json()
    }
    assert (
        tree["big.bin"]["xetHash"]
        == httpx.head(f"{live.url}/{repo}/resolve/main/big.bin", headers={"Authorization": f"Bearer {token}"}).headers[
            "x-xet-hash"
        ]
    )
    entries = list(hf.list_repo_tree(repo))
    assert all(e.xet_hash for e in entries if getattr(e, "lfs", None))
    snap = Path(snapshot_download(repo, endpoint=live.url, token=token, cache_dir=tmp_path / "cache"))
    for name in SIZES:
        assert sha256_of(snap / name) == sha256_of(folder / name), name

    # Without hf_xet the same files come back as plain HTTP, rebuilt by the hub, with ranges.
    script = (
        "import sys; from huggingface_hub import hf_hub_download as d; "
        "print(d(sys.argv[1], 'three.bin', endpoint=sys.argv[2], token=sys.argv[3]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, repo, live.url, token],
        env=_client_env(tmp_path / "plain", HF_HUB_DISABLE_XET="1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sha256_of(Path(proc.stdout.strip().splitlines()[-1])) == sha256_of(folder / "three.bin")
    with api(live.url, token) as client:
        part = client.get(f"/{repo}/resolve/main/big.bin", headers={"Range": "bytes=100000000-100999999"})
        assert part.status_code == 206
        with open(folder / "big.bin", "rb") as fh:
            fh.seek(100_000_000)
            assert part.content == fh.read(1_000_000)

    # git-lfs sees ordinary LFS objects.
    env = setup_git_home(tmp_path / "home")
    git(
        "clone",
        f"http://{user}:{token}@{live.host()}/{repo}",
        str(tmp_path / "clone"),
        cwd=tmp_path,
        env={**env, "GIT_LFS_SKIP_SMUDGE": "0"},
    )
    assert sha256_of(tmp_path / "clone" / "three.bin") == sha256_of(folder / "three.bin")
    assert sha256_of(tmp_path / "clone" / "tiny.bin") == sha256_of(folder / "tiny.bin")


# --- bad input, through the CAS's own HTTP API --------------------------------------------------------


def _tokens(live: LiveHub, token: str, repo: str) -> tuple[str, str, str]:
    with api(live.url, token) as client:
        write = client.get(f"/api/models/{repo}/xet-write-token/main")
        read = client.get(f"/api/models/{repo}/xet-read-token/main")
    assert write.status_code == 200 and read.status_code == 200
    cas = write.json()["casUrl"]
    # The URL names this hub's store: hf_xet's cache of what a CAS holds is kept per URL.
    assert cas == write.headers["x-xet-cas-url"] == read.json()["casUrl"]
    assert re.fullmatch(re.escape(f"{live.url}/xet/") + "[0-9a-f]{16}", cas)
    other = httpx.post(
        f"{live.url}/xet/{'0' * 16}/v1/shards",
        content=b"x",
        headers={"Authorization": f"Bearer {write.json()['accessToken']}"},
    )
    assert other.status_code == 404 and other.json()["code"] == "NotFound"
    return write.json()["accessToken"], read.headers["x-xet-access-token"], write.json()["casUrl"]


def _upload_parts(data: bytes, claimed_sha: str | None = None) -> tuple[str, bytes, bytes, str]:
    chunks = [data[i : i + 50_000] for i in range(0, len(data), 50_000)]
    hashes = [chunk_hash(c) for c in chunks]
    leaves = [(h, len(c)) for h, c in zip(hashes, chunks, strict=True)]
    xorb = xorb_hash(leaves)
    offsets = [sum(map(len, chunks[:i])) for i in range(len(chunks))]
    shard = Shard(
        (
            FileBlock(
                file_hash(leaves),
                (Term(xorb, len(data), 0, len(chunks)),),
                (verification_hash(hashes),),
                sha256_to_shard(claimed_sha or hashlib.sha256(data).hexdigest()),
            ),
        ),
        (
            XorbBlock(
                xorb, tuple(ChunkEntry(h, offsets[i], len(chunks[i]), 0) for i, h in enumerate(hashes)), len(data)
            ),
        ),
    )
    return to_hex(xorb), serialize_xorb(chunks), serialize_shard(shard), to_hex(file_hash(leaves))


@pytest.fixture
def cas(live: LiveHub) -> tuple[str, str, str, str, str]:
    user, token = live.user()
    repo = f"{user}/xet-bad"
    create_repo(live.url, token, repo)
    write, read, cas_url = _tokens(live, token, repo)
    return repo, token, write, read, cas_url


def test_xet_tampered_xorb_and_lying_shard_are_refused(live: LiveHub, cas) -> None:
    _repo, _token, write, _read, cas_url = cas
    xorb, blob, shard, _ = _upload_parts(os.urandom(200_000))
    auth = {"Authorization": f"Bearer {write}"}
    tampered = bytearray(blob)
    tampered[500] ^= 1
    r = httpx.post(f"{cas_url}/v1/xorbs/default/{xorb}", content=bytes(tampered), headers=auth)
    assert r.status_code == 400 and "does not match" in r.json()["error"]
    r = httpx.post(f"{cas_url}/v1/shards", content=shard, headers=auth)
    assert r.status_code == 400 and "never uploaded" in r.json()["error"]
    r = httpx.post(f"{cas_url}/v1/xorbs/default/{xorb}", content=blob, headers=auth)
    assert r.json() == {"was_inserted": True}
    assert httpx.post(f"{cas_url}/v1/xorbs/default/{xorb}", content=blob, headers=auth).json() == {
        "was_inserted": False
    }
    wrong = bytearray(shard)
    wrong[48 + 48 + 48 + 5] ^= 1  # inside the verification hash
    r = httpx.post(f"{cas_url}/v1/shards", content=bytes(wrong), headers=auth)
    assert r.status_code == 400 and "verification" in r.json()["error"]
    assert httpx.post(f"{cas_url}/v1/shards", content=b"garbage" * 10, headers=auth).status_code == 400


def test_xet_tokens_are_checked_and_scoped(live: LiveHub, cas) -> None:
    repo, token, write, read, cas_url = cas
    xorb, blob, _, _ = _upload_parts(os.urandom(10_000))
    for bad, status in ((read, 403), ("not-a-token", 401), (token, 401), (write[:-2] + "00", 401)):
        r = httpx.post(f"{cas_url}/v1/xorbs/default/{xorb}", content=blob, headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == status, (bad, r.text)
    assert httpx.post(f"{cas_url}/v1/xorbs/default/{xorb}", content=blob).status_code == 401
    other, other_token = live.user()
    private = f"{other}/hidden"
    create_repo(live.url, other_token, private, private=True)
    with api(live.url, token) as client:
        assert client.get(f"/api/models/{private}/xet-read-token/main").status_code == 404
        assert client.get(f"/api/models/{repo}/xet-write-token/main").status_code == 200
    with api(live.url) as anonymous:
        assert anonymous.get(f"/api/models/{repo}/xet-write-token/main").status_code == 401
        assert anonymous.get(f"/api/models/{repo}/xet-read-token/main").status_code == 200


def _commit(client: httpx.Client, repo: str, oid: str, size: int) -> httpx.Response:
    lines = [
        {"key": "header", "value": {"summary": "xet"}},
        {"key": "lfsFile", "value": {"path": "f.bin", "algo": "sha256", "oid": oid, "size": size}},
    ]
    return client.post(f"/api/models/{repo}/commit/main", content="".join(json.dumps(x) + "\n" for x in lines))


def test_xet_commit_naming_a_false_sha256_is_refused(live: LiveHub, cas) -> None:
    repo, token, write, _read, cas_url = cas
    data = os.urandom(120_000)
    claimed = hashlib.sha256(b"something else").hexdigest()
    xorb, blob, shard, _ = _upload_parts(data, claimed_sha=claimed)
    auth = {"Authorization": f"Bearer {write}"}
    assert httpx.post(f"{cas_url}/v1/xorbs/default/{xorb}", content=blob, headers=auth).status_code == 200
    assert httpx.post(f"{cas_url}/v1/shards", content=shard, headers=auth).json() == {"result": 1}
    with api(live.url, token) as client:
        before = client.get(f"/api/models/{repo}").json()["sha"]
        r = _commit(client, repo, claimed, len(data))
        assert r.status_code == 400 and "claims sha256" in r.json()["error"]
        assert client.get(f"/api/models/{repo}").json()["sha"] == before


def test_xet_reconstruction_urls_serve_only_their_signed_range(live: LiveHub, cas) -> None:
    repo, token, write, read, cas_url = cas
    data = os.urandom(300_000)
    xorb, blob, shard, name = _upload_parts(data)
    auth = {"Authorization": f"Bearer {write}"}
    httpx.post(f"{cas_url}/v1/xorbs/default/{xorb}", content=blob, headers=auth)
    httpx.post(f"{cas_url}/v1/shards", content=shard, headers=auth)
    with api(live.url, token) as client:
        assert _commit(client, repo, hashlib.sha256(data).hexdigest(), len(data)).status_code == 200
    plan = httpx.get(
        f"{cas_url}/v1/reconstructions/{name}",
        headers={"Authorization": f"Bearer {read}", "Range": "bytes=100000-199999"},
    ).json()
    assert plan["offset_into_first_range"] == 0 and plan["terms"][0]["range"] == {"start": 2, "end": 4}
    fetch = plan["fetch_info"][xorb][0]
    lo, hi = fetch["url_range"]["start"], fetch["url_range"]["end"]
    got = httpx.get(fetch["url"], headers={"Range": f"bytes={lo}-{hi}"})
    assert got.status_code == 206 and got.content == blob[lo : hi + 1]
    assert httpx.get(fetch["url"], headers={"Range": f"bytes=0-{hi}"}).status_code == 403
    assert httpx.get(fetch["url"].replace("sig=", "sig=0"), headers={"Range": f"bytes={lo}-{hi}"}).status_code == 403
    stranger, stranger_token = live.user()
    create_repo(live.url, stranger_token, f"{stranger}/other")
    _, foreign_read, _ = _tokens(live, stranger_token, f"{stranger}/other")
    r = httpx.get(f"{cas_url}/v1/reconstructions/{name}", headers={"Authorization": f"Bearer {foreign_read}"})
    assert r.status_code == 404


_UPLOAD = (
    "import sys; from huggingface_hub import HfApi; "
    "HfApi(endpoint=sys.argv[1], token=sys.argv[2]).upload_file("
    "path_or_fileobj=sys.argv[3], path_in_repo=sys.argv[4], repo_id=sys.argv[5])"
)


def _stored_xorb_bytes(live: LiveHub) -> int:
    from sqlalchemy import func, select

    from csghub.db.models import XetXorb

    with live.hub.db() as session:
        return int(session.scalar(select(func.coalesce(func.sum(XetXorb.serialized_size), 0))) or 0)


def test_xet_reupload_with_one_percent_changed_sends_under_five_percent(live: LiveHub, tmp_path: Path) -> None:
    import random

    user, token = live.user()
    repo = f"{user}/dedup"
    create_repo(live.url, token, repo)
    size = 200 * 1024 * 1024
    original = tmp_path / "v1.bin"
    with open(original, "wb") as fh:
        for _ in range(200):
            fh.write(os.urandom(1 << 20))
    edited = tmp_path / "v2.bin"
    data = bytearray(original.read_bytes())
    rng = random.Random(7)
    for _ in range(20):  # 20 edits of 0.05% each: 1% of the bytes, spread over the file
        at = rng.randrange(0, size - size // 2000)
        data[at : at + size // 2000] = os.urandom(size // 2000)
    edited.write_bytes(data)
    del data

    sent = []
    for index, path in enumerate((original, edited)):
        before = _stored_xorb_bytes(live)
        # A fresh process and cache each time: only the hub can tell the client what it already has.
        proc = subprocess.run(
            [sys.executable, "-c", _UPLOAD, live.url, token, str(path), f"model-{index}.bin", repo],
            env=_client_env(tmp_path / f"client{index}"),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        sent.append(_stored_xorb_bytes(live) - before)
    assert sent[0] >= size
    assert sent[1] < 0.05 * size, f"re-upload stored {sent[1]} new bytes of {size}"
    with api(live.url, token) as client, client.stream("GET", f"/{repo}/resolve/main/model-1.bin") as response:
        digest = hashlib.sha256()
        for block in response.iter_bytes():
            digest.update(block)
    assert digest.hexdigest() == sha256_of(edited)


def test_xet_deleting_repos_frees_chunks_nobody_references(live_hub_factory, tmp_path: Path) -> None:
    from csghub.services.xet.gc import collect_garbage

    hub = live_hub_factory({"CSGHUB_XET_GC_GRACE": "0"})
    user, token = hub.user()
    shared, alone = os.urandom(2_000_000), os.urandom(2_000_000)
    for name, files in (("keep", {"shared.bin": shared}), ("drop", {"shared.bin": shared, "alone.bin": alone})):
        create_repo(hub.url, token, f"{user}/{name}")
        for path, content in files.items():
            src = tmp_path / f"{name}-{path}"
            src.write_bytes(content)
            proc = subprocess.run(
                [sys.executable, "-c", _UPLOAD, hub.url, token, str(src), path, f"{user}/{name}"],
                env=_client_env(tmp_path / f"c-{name}-{path}"),
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert proc.returncode == 0, proc.stderr[-2000:]
    before = _stored_xorb_bytes(hub)
    with api(hub.url, token) as client:
        assert (
            client.request("DELETE", "/api/repos/delete", json={"name": "drop", "organization": user}).status_code
            == 200
        )
    collect_garbage(hub.hub)
    freed = before - _stored_xorb_bytes(hub)
    assert 2_000_000 <= freed < 3_000_000  # alone.bin's chunks went; shared.bin's stay for "keep"
    with api(hub.url, token) as client:
        assert client.get(f"/{user}/keep/resolve/main/shared.bin").content == shared


def test_xet_expired_links_and_tokens_are_refused(live: LiveHub) -> None:
    import time

    from csghub.core.signing import make_token, signed_query

    secret = live.hub.settings.secret_key
    expired = make_token(
        secret, {"kind": "xet", "scope": "write", "repo": 1, "user": 1}, expires_at=int(time.time()) - 5
    )
    r = httpx.post(f"{live.url}/xet/v1/shards", content=b"x", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["error"]
    stale = signed_query(secret, "xorb", "a" * 64, "0-9", ttl=-5)
    r = httpx.get(f"{live.url}/xet/xorbs/default/{'a' * 64}?range=0-9&{stale}", headers={"Range": "bytes=0-9"})
    assert r.status_code == 403
