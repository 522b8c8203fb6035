"""Bad input gets a clear 4xx with a message, and leaves the repository exactly as it was."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess

import httpx
import pytest

from tests.support.clients import api, create_repo
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)


def _ndjson(*items: dict) -> bytes:
    return "\n".join(json.dumps(i) for i in items).encode() + b"\n"


def _header(summary: str = "change", **extra: object) -> dict:
    return {"key": "header", "value": {"summary": summary, "description": "", **extra}}


def _file(path: str, content: bytes) -> dict:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}}


def _state(live: LiveHub, client: httpx.Client, repo: str) -> tuple[str, list[str]]:
    info = client.get(f"/api/models/{repo}").json()
    return info["sha"], sorted(s["rfilename"] for s in info["siblings"])


def _fsck_clean(live: LiveHub, repo: str) -> None:
    from csghub.core.names import RepoId, RepoType
    from csghub.services.permissions import Actor
    from csghub.services.repositories import repos

    view = repos.get_repo(live.hub, Actor(user_id=0, is_admin=True), RepoType.MODEL, RepoId.parse(repo))
    proc = subprocess.run(
        ["git", "--git-dir", str(live.hub.repo_path(view.id)), "fsck", "--strict"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def setup(live: LiveHub) -> tuple[httpx.Client, str]:
    user, token = live.user()
    repo = f"{user}/target"
    create_repo(live.url, token, repo)
    return api(live.url, token), repo


@pytest.mark.parametrize("name", ["bad name", "a--b", "..", "x.git", "-lead", "trail-", "é", "a" * 97, ""])
def test_bad_input_invalid_repo_names_are_rejected(live: LiveHub, name: str) -> None:
    user, token = live.user()
    with api(live.url, token) as client:
        r = client.post("/api/repos/create", json={"name": name, "organization": user})
        assert r.status_code == 400, r.text
        assert r.json()["error"] and r.headers["x-error-message"]
        assert client.get("/api/models", params={"author": user}).json() == []


@pytest.mark.parametrize(
    "path", ["../escape.txt", "/etc/passwd", ".git/config", "a/../../b", "a//b", "sub/.git/x", "a\\b", "tab\there"]
)
def test_bad_input_traversal_paths_in_commit_are_rejected(live: LiveHub, setup, path: str) -> None:
    client, repo = setup
    before = _state(live, client, repo)
    r = client.post(f"/api/models/{repo}/commit/main", content=_ndjson(_header(), _file(path, b"x")))
    assert r.status_code == 400, r.text
    assert "path" in r.json()["error"].lower()
    assert _state(live, client, repo) == before
    _fsck_clean(live, repo)


def test_bad_input_traversal_in_resolve_is_rejected(live: LiveHub, setup) -> None:
    client, repo = setup
    for raw in ("%2e%2e/%2e%2e/etc/passwd", ".git/config", "%2Fetc%2Fpasswd"):
        r = client.get(f"/{repo}/resolve/main/{raw}")
        assert r.status_code in (400, 404), (raw, r.status_code)
        assert r.json()["error"]
        assert "root:" not in r.text


@pytest.mark.parametrize(
    "body",
    [
        b"{not json}\n",
        b'{"key": "header", "value": {"summary": "x"}}\n{"key": "file", "value": {"path": "a", "content": "@@@"}}\n',
        b'{"key": "file", "value": {"path": "a.txt", "content": "YQ==", "encoding": "base64"}}\n',
        b'{"key": "header", "value": {"summary": "x"}}\n{"key": "teleport", "value": {}}\n',
        b'{"key": "header", "value": {"summary": "x"}}\n{"key": "file", "value": {"path": "a", "content": "YWJj',
        b'{"key": "header", "value": {"summary": ""}}\n{"key": "deletedFile", "value": {"path": ".gitattributes"}}\n',
        b"[1, 2, 3]\n",
    ],
)
def test_bad_input_malformed_ndjson_commit_is_rejected(live: LiveHub, setup, body: bytes) -> None:
    client, repo = setup
    before = _state(live, client, repo)
    r = client.post(f"/api/models/{repo}/commit/main", content=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]
    assert _state(live, client, repo) == before
    _fsck_clean(live, repo)


def test_bad_input_deleting_missing_file_is_entry_not_found(live: LiveHub, setup) -> None:
    client, repo = setup
    before = _state(live, client, repo)
    r = client.post(
        f"/api/models/{repo}/commit/main",
        content=_ndjson(_header(), {"key": "deletedFile", "value": {"path": "nope.txt"}}),
    )
    assert r.status_code == 404 and r.headers["x-error-code"] == "EntryNotFound"
    assert _state(live, client, repo) == before


def test_bad_input_stale_parent_commit_is_a_conflict(live: LiveHub, setup) -> None:
    client, repo = setup
    first, _ = _state(live, client, repo)
    ok = client.post(
        f"/api/models/{repo}/commit/main", content=_ndjson(_header(parentCommit=first), _file("one.txt", b"1"))
    )
    assert ok.status_code == 200, ok.text
    after_first = _state(live, client, repo)
    stale = client.post(
        f"/api/models/{repo}/commit/main", content=_ndjson(_header(parentCommit=first), _file("two.txt", b"2"))
    )
    assert stale.status_code == 409
    assert "A commit has happened since" in stale.json()["error"]
    assert _state(live, client, repo) == after_first
    _fsck_clean(live, repo)


def test_bad_input_lfs_upload_with_wrong_bytes_is_refused_and_not_stored(live: LiveHub, setup) -> None:
    client, repo = setup
    data = os.urandom(100_000)
    oid = hashlib.sha256(data).hexdigest()
    batch = client.post(
        f"/{repo}.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(data)}]},
        headers={"Accept": "application/vnd.git-lfs+json"},
    ).json()
    action = batch["objects"][0]["actions"]
    put = httpx.put(action["upload"]["href"], content=os.urandom(len(data)))
    assert put.status_code == 400 and "Checksum mismatch" in put.json()["message"]
    verify = httpx.post(action["verify"]["href"], json={"oid": oid, "size": len(data)})
    assert verify.status_code == 400
    assert not live.hub.blobs.exists(oid)
    # A commit naming the object is refused too, and the repo is unchanged.
    before = _state(live, client, repo)
    commit = client.post(
        f"/api/models/{repo}/commit/main",
        content=_ndjson(
            _header(), {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": len(data)}}
        ),
    )
    assert commit.status_code == 400 and "not uploaded" in commit.json()["error"]
    assert _state(live, client, repo) == before
    # The signed link cannot be reused for other bytes or another object.
    forged = action["upload"]["href"].replace(oid, hashlib.sha256(b"x").hexdigest())
    assert httpx.put(forged, content=b"x").status_code == 401


def test_bad_input_lfs_batch_rejects_malformed_requests(live: LiveHub, setup) -> None:
    client, repo = setup
    for body in (
        {"operation": "upload"},
        {"operation": "upload", "objects": [{"oid": "xyz", "size": 1}]},
        {"operation": "steal", "objects": [{"oid": "a" * 64, "size": 1}]},
        {"operation": "upload", "objects": [{"oid": "a" * 64, "size": -5}]},
    ):
        r = client.post(f"/{repo}.git/info/lfs/objects/batch", json=body)
        assert r.status_code == 400 and r.json()["message"], (body, r.text)


def test_bad_input_unknown_revision_and_entry_carry_hf_error_codes(live: LiveHub, setup) -> None:
    client, repo = setup
    r = client.get(f"/api/models/{repo}/revision/nope")
    assert r.status_code == 404 and r.headers["x-error-code"] == "RevisionNotFound"
    r = client.head(f"/{repo}/resolve/main/missing.txt")
    assert r.status_code == 404 and r.headers["x-error-code"] == "EntryNotFound"
    r = client.get(f"/api/models/{repo}/tree/main/missing-folder")
    assert r.status_code == 404 and r.headers["x-error-code"] == "EntryNotFound"


def test_bad_input_a_repository_route_settles_who_may_act_before_reading_the_body(live: LiveHub, setup) -> None:
    client, repo = setup
    _reader, token = live.user("reader")
    private = f"{repo}-hidden"
    made = client.post("/api/repos/create", json={"name": private, "private": True})
    assert made.status_code == 200, made.text
    with api(live.url, token) as stranger:
        # A body the route would refuse (no 'tag', a broken commit) is never read for someone who may not write.
        r = stranger.post(f"/api/models/{repo}/tag/main", json={})
        assert r.status_code == 403 and r.headers["x-error-code"] == "PermissionDenied", r.text
        r = stranger.post(f"/api/models/{private}/commit/main", content=b"{not json")
        assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound", r.text
        r = stranger.post(f"/api/v1/models/{private}/raw/a.txt", content=b"{not json")
        assert r.status_code == 404 and r.json()["msg"].startswith("Repository not found"), r.text


def test_bad_input_portal_pages_answer_failures_as_pages_and_api_routes_as_json(live: LiveHub, setup) -> None:
    _client, repo = setup
    owner = repo.split("/")[0]
    # Decided by the route, not by what the client accepts: a page is a page, an API route JSON.
    for path in (f"/{owner}/a..b", f"/{owner}/never-made/blob/main/x", f"/datasets/{repo}/commit/{'0' * 40}"):
        page = httpx.get(f"{live.url}{path}", headers={"Accept": "application/json"})
        assert page.status_code == 404 and "Page not found" in page.text, (path, page.status_code)
        assert page.headers["content-type"].startswith("text/html"), path
    missing = httpx.get(f"{live.url}/api/models/{owner}/never-made", headers={"Accept": "text/html"})
    assert missing.status_code == 401 and missing.json()["code"] == "RepoNotFound"
    # The upload page's own script proves its session with the CSRF header: it reads failures as JSON.
    scripted = httpx.post(f"{live.url}/{repo}/upload/main", headers={"X-CSRF-Token": "forged"})
    assert scripted.status_code == 403 and scripted.json()["code"] == "PermissionDenied", scripted.text
