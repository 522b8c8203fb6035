"""Details of the Hugging Face-compatible surface that clients depend on: ranges, pagination, paths-info,
folder deletion, the /hf and /csg mounts, and typed errors."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.support.clients import api, create_repo
from tests.support.live import LiveHub


def _commit(client: httpx.Client, repo: str, lines: list[dict]) -> httpx.Response:
    body = [{"key": "header", "value": {"summary": "change"}}, *lines]
    return client.post(f"/api/models/{repo}/commit/main", content="".join(json.dumps(x) + "\n" for x in body))


def _add(path: str, data: bytes) -> dict:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}}


@pytest.fixture
def populated(live: LiveHub) -> tuple[httpx.Client, str]:
    user, token = live.user()
    repo = f"{user}/surface"
    create_repo(live.url, token, repo)
    client = api(live.url, token)
    files = [_add(f"folder/f{i:04d}.txt", f"file {i}\n".encode()) for i in range(1205)]
    files.append(_add("big.bin", bytes(range(256)) * 4096))
    assert _commit(client, repo, files).status_code == 200
    return client, repo


@pytest.mark.parametrize("prefix", ["", "/hf", "/csg"])
def test_resolve_range_answers_206_with_exact_bytes(populated, prefix: str) -> None:
    client, repo = populated
    full = client.get(f"{prefix}/{repo}/resolve/main/big.bin")
    assert full.status_code == 200 and len(full.content) == 1024 * 1024
    assert full.headers["accept-ranges"] == "bytes" and full.headers["content-length"] == str(1024 * 1024)
    part = client.get(f"{prefix}/{repo}/resolve/main/big.bin", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == full.content[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{1024 * 1024}"
    tail = client.get(f"{prefix}/{repo}/resolve/main/big.bin", headers={"Range": "bytes=-10"})
    assert tail.content == full.content[-10:]
    head = client.head(f"{prefix}/{repo}/resolve/main/big.bin")
    assert head.headers["x-linked-size"] == str(1024 * 1024) and len(head.headers["x-repo-commit"]) == 40
    bad = client.get(f"{prefix}/{repo}/resolve/main/big.bin", headers={"Range": f"bytes={2 << 20}-"})
    assert bad.status_code == 416


def test_tree_is_paginated_with_link_headers(populated) -> None:
    client, repo = populated
    seen: list[str] = []
    url: str | None = f"/api/models/{repo}/tree/main/folder"
    pages = 0
    while url:
        r = client.get(url)
        assert r.status_code == 200
        seen += [e["path"] for e in r.json()]
        url = r.links.get("next", {}).get("url")
        pages += 1
    assert pages == 2 and len(seen) == 1205 and len(set(seen)) == 1205


def test_paths_info_returns_existing_paths_only(populated) -> None:
    client, repo = populated
    r = client.post(
        f"/api/models/{repo}/paths-info/main", data={"paths": ["big.bin", "folder", "nope.txt"], "expand": "true"}
    )
    entries = {e["path"]: e for e in r.json()}
    assert set(entries) == {"big.bin", "folder"}
    assert entries["big.bin"]["lfs"]["size"] == 1024 * 1024 and entries["folder"]["type"] == "directory"


def test_deleted_folder_removes_everything_under_it(populated) -> None:
    client, repo = populated
    r = _commit(client, repo, [{"key": "deletedFolder", "value": {"path": "folder/"}}])
    assert r.status_code == 200, r.text
    tree = [e["path"] for e in client.get(f"/api/models/{repo}/tree/main").json()]
    assert "folder" not in tree and "big.bin" in tree
    again = _commit(client, repo, [{"key": "deletedFolder", "value": {"path": "folder"}}])
    assert again.status_code == 404 and again.headers["x-error-code"] == "EntryNotFound"


def test_list_models_paginates_sorts_and_filters(live: LiveHub) -> None:
    user, token = live.user()
    for i in range(5):
        create_repo(live.url, token, f"{user}/m{i}")
    with api(live.url, token) as client:
        first = client.get("/api/models", params={"author": user, "limit": 2, "sort": "createdAt", "direction": 1})
        assert [m["id"] for m in first.json()] == [f"{user}/m0", f"{user}/m1"]
        second = client.get(first.links["next"]["url"])
        assert [m["id"] for m in second.json()] == [f"{user}/m2", f"{user}/m3"]
        assert [m["id"] for m in client.get("/api/models", params={"search": f"{user}/m4"}).json()] == [f"{user}/m4"]
        assert client.get("/api/models", params={"sort": "bogus"}).status_code == 400


def test_commit_history_and_tags_resolve_everywhere(populated) -> None:
    client, repo = populated
    commits = client.get(f"/api/models/{repo}/commits/main").json()
    assert [c["title"] for c in commits] == ["change", "Initial commit"]
    first = commits[-1]["id"]
    assert client.post(f"/api/models/{repo}/tag/{first}", json={"tag": "v0"}).status_code == 200
    assert client.post(f"/api/models/{repo}/tag/{first}", json={"tag": "v0"}).status_code == 409
    for rev in ("v0", first):
        info = client.get(f"/api/models/{repo}/revision/{rev}").json()
        assert info["sha"] == first
        assert "big.bin" not in [s["rfilename"] for s in info["siblings"]]
    assert client.delete(f"/api/models/{repo}/tag/v0").status_code == 200
    assert client.get(f"/api/models/{repo}/revision/v0").status_code == 404


def test_whoami_requires_a_valid_token(live: LiveHub) -> None:
    user, token = live.user()
    with api(live.url, token) as client:
        me = client.get("/api/whoami-v2").json()
        assert me["name"] == user and me["auth"]["accessToken"]["role"] == "write"
    with api(live.url, "csg_not-a-real-token") as client:
        r = client.get("/api/whoami-v2")
        assert r.status_code == 401 and r.json()["error"]
    with api(live.url) as client:
        assert client.get("/api/whoami-v2").status_code == 401
