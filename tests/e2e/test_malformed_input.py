"""Malformed input answers a 4xx with a message naming the problem, never a 500 or a dropped connection,
and changes nothing: bodies that are not JSON, JSON fields of the wrong type, forged internal markers,
control characters in URLs, stale or forged session cookies."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.support.clients import api, create_repo
from tests.support.live import LiveHub

PASSWORD = "malformed passphrase 7"


def _ndjson(*items: dict) -> bytes:
    return "\n".join(json.dumps(i) for i in items).encode() + b"\n"


def _header(**extra: object) -> dict:
    return {"key": "header", "value": {"summary": "change", "description": "", **extra}}


def _file(path: object, content: str = "eA==") -> dict:
    return {"key": "file", "value": {"path": path, "content": content, "encoding": "base64"}}


def _state(client: httpx.Client, repo: str) -> tuple[str, list[str]]:
    info = client.get(f"/api/models/{repo}").json()
    return info["sha"], sorted(s["rfilename"] for s in info["siblings"])


def _assert_refused(r: httpx.Response, *, naming: str = "") -> None:
    """A 400 in the hub's error shape; the message names the field when `naming` is given."""
    assert r.status_code == 400, (r.status_code, r.text)
    body = r.json()
    assert body["code"] == "InvalidArgument" and body["error"], body
    assert r.headers["x-error-code"] == "InvalidArgument"
    if naming:
        assert f"'{naming}'" in body["error"], body["error"]


@pytest.fixture
def setup(live: LiveHub) -> Iterator[tuple[httpx.Client, str, str]]:
    user, token = live.user()
    repo = f"{user}/target"
    create_repo(live.url, token, repo)
    with api(live.url, token) as client:
        yield client, repo, user


@pytest.mark.parametrize("body", [b"", b"   ", b"{bad", b'{"files": [', b"\xff\xfe", b"[1, 2"])
@pytest.mark.parametrize("route", ["/api/validate-yaml", "preupload", "paths-info", "v1-preupload"])
def test_malformed_input_non_json_bodies_are_refused(live: LiveHub, setup, route: str, body: bytes) -> None:
    client, repo, _ = setup
    url = {
        "preupload": f"/api/models/{repo}/preupload/main",
        "paths-info": f"/api/models/{repo}/paths-info/main",
        "v1-preupload": f"/api/v1/models/{repo}/preupload/main",
    }.get(route, route)
    # A fresh connection each time: a 500 used to close it, which would hide a dropped connection here.
    with api(live.url, client.headers["authorization"].removeprefix("Bearer ")) as fresh:
        r = fresh.post(url, content=body, headers={"content-type": "application/json"})
    _assert_refused(r)
    assert "JSON" in r.json()["error"]


def test_malformed_input_deeply_nested_yaml_is_refused(live: LiveHub) -> None:
    r = httpx.post(f"{live.url}/api/validate-yaml", json={"content": "a: " + "[" * 100_000})
    _assert_refused(r)
    assert "nest" in r.json()["error"]  # "nested too deeply" or libyaml's "exceeded maximum nesting depth"
    assert httpx.post(f"{live.url}/api/validate-yaml", json={"content": "license: mit\n"}).json()["errors"] == []
    prose = "A tiny model.\n\nTrained for: three epochs, loss: [see below\n"  # a README without front matter
    assert httpx.post(f"{live.url}/api/validate-yaml", json={"content": prose}).json()["errors"] == []


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ((_header(parentCommit=5), _file("a.txt")), "parentCommit"),
        ((_header(summary=["x"]), _file("a.txt")), "summary"),
        ((_header(description={"x": 1}), _file("a.txt")), "description"),
        ((_header(), _file(None)), "path"),
        ((_header(), _file(7)), "path"),
        ((_header(), {"key": "deletedFile", "value": {"path": None}}), "path"),
        ((_header(), {"key": "deletedFolder", "value": {"path": ["a"]}}), "path"),
        ((_header(), {"key": "lfsFile", "value": {"path": "w.bin", "oid": 5, "size": 1}}), "oid"),
        ((_header(), {"key": "lfsFile", "value": {"path": "w.bin", "oid": "a" * 64, "size": True}}), "size"),
        ((_header(), {"key": "file", "value": {"path": "a", "content": "eA==", "encoding": 64}}), "encoding"),
    ],
)
def test_malformed_input_commit_fields_of_the_wrong_type_are_refused(
    live: LiveHub, setup, lines: tuple[dict, ...], field: str
) -> None:
    client, repo, _ = setup
    before = _state(client, repo)
    r = client.post(f"/api/models/{repo}/commit/main", content=_ndjson(*lines))
    _assert_refused(r, naming=field)
    after = _state(client, repo)
    assert after == before and "None" not in after[1] and "7" not in after[1]


@pytest.mark.parametrize(
    "line",
    [
        # The key's escape hides it from the streaming reader, so the value stays the client's own string;
        # it used to be taken for the reader's placeholder of spooled content.
        b'{"key": "file", "value": {"path": "f.txt", "cont\\u0065nt": "\\u00000\\u0000"}}',
        b'{"key": "file", "value": {"path": "f.txt", "cont\\u0065nt": "\\u00007\\u0000"}}',
        b'{"key": "file", "value": {"path": "f.txt", "cont\\u0065nt": "\\u0000x\\u0000"}}',
    ],
)
def test_malformed_input_forged_spool_markers_are_refused(live: LiveHub, setup, line: bytes) -> None:
    client, repo, _ = setup
    before = _state(client, repo)
    real = json.dumps(_file("real.txt", "c2VjcmV0")).encode()
    body = json.dumps(_header()).encode() + b"\n" + real + b"\n" + line + b"\n"
    r = client.post(f"/api/models/{repo}/commit/main", content=body)
    _assert_refused(r)
    assert "content" in r.json()["error"]
    assert _state(client, repo) == before


@pytest.mark.parametrize("name", [12345, None, ["x"], {"n": 1}, True, "abc\n", "a\x01b"])
def test_malformed_input_repo_names_that_are_not_names_are_refused(live: LiveHub, name: object) -> None:
    user, token = live.user()
    with api(live.url, token) as client:
        hf = client.post("/api/repos/create", json={"name": name, "organization": user})
        v1 = client.post("/api/v1/models", json={"name": name, "namespace": user})
        org = client.post("/api/repos/create", json={"name": "fine", "organization": name})
        for r in (hf, v1):
            assert r.status_code == 400, r.text
            assert "name" in r.json()["error"]
        if name is not None:  # no organization means the caller's own namespace
            assert org.status_code == 400, org.text
        made = {m["id"] for m in client.get("/api/models", params={"author": user}).json()}
        assert made <= {f"{user}/fine"}, made
        # The message echoes what was sent; a header may not carry control characters, so they are blanked.
        assert not re.search(r"[\x00-\x1f\x7f]", hf.headers["x-error-message"])


def _write_routes(repo: str, user: str) -> list[tuple[str, str, dict, str]]:
    """(method, url, JSON body, the field a 400 must name) across the JSON routes."""
    return [
        ("POST", f"/api/models/{repo}/preupload/main", {"files": [{"path": 5, "size": 1}]}, "path"),
        ("POST", f"/api/models/{repo}/preupload/main", {"files": [{"path": "a", "sample": 5}]}, "sample"),
        ("POST", f"/api/models/{repo}/preupload/main", {"files": [{"path": "a", "size": "1"}]}, "size"),
        ("POST", f"/api/models/{repo}/paths-info/main", {"paths": [1, 2]}, "paths"),
        ("POST", f"/api/models/{repo}/tag/main", {"tag": 5}, "tag"),
        ("POST", f"/api/models/{repo}/tag/main", {"tag": "v1", "exist_ok": "yes"}, "exist_ok"),
        ("POST", f"/api/models/{repo}/branch/dev", {"startingPoint": 5}, "startingPoint"),
        ("PUT", f"/api/models/{repo}/settings", {"description": 5}, "description"),
        ("PUT", f"/api/models/{repo}/settings", {"defaultBranch": ["main"]}, "defaultBranch"),
        ("POST", "/api/repos/create", {"name": "x", "organization": user, "description": 5}, "description"),
        ("POST", "/api/repos/create", {"name": "x", "organization": user, "type": 1}, "type"),
        ("POST", "/api/repos/move", {"fromRepo": 1, "toRepo": f"{user}/y"}, "fromRepo"),
        ("POST", f"/api/v1/models/{repo}/raw/a.txt", {"content": "eA==", "message": 5}, "message"),
        ("POST", f"/api/v1/models/{repo}/raw/a.txt", {"content": "eA==", "new_branch": 5}, "new_branch"),
        ("POST", "/api/v1/user/ssh_keys", {"name": 5, "content": "ssh-ed25519 AAAA"}, "name"),
        ("POST", "/api/v1/user/tokens", {"name": "t", "grants": [{"target": repo, "actions": [1]}]}, "actions"),
        ("POST", "/api/collections", {"title": "c", "namespace": 5}, "namespace"),
        # PostgreSQL text cannot hold NUL: refused for every database alike, before it reaches one.
        ("POST", "/api/collections", {"title": "c\x00"}, "title"),
        ("PUT", f"/api/models/{repo}/settings", {"description": "a\x00b"}, "description"),
        ("POST", f"/api/models/{repo}/discussions", {"title": "t", "description": "\x00"}, "description"),
        ("POST", f"/{repo}.git/info/lfs/objects/batch", {"operation": "download", "transfers": 5, "objects": []}, ""),
    ]


def test_malformed_input_json_fields_of_the_wrong_type_are_refused(live: LiveHub, setup) -> None:
    client, repo, user = setup
    before = _state(client, repo)
    for method, url, body, field in _write_routes(repo, user):
        r = client.request(method, url, json=body)
        assert r.status_code == 400, (method, url, body, r.status_code, r.text)
        message = r.json().get("error") or r.json().get("message")
        assert message and (not field or f"'{field}'" in message), (url, message)
    assert _state(client, repo) == before
    assert client.get(f"/api/models/{repo}/refs").json()["branches"] == [
        {"name": "main", "ref": "refs/heads/main", "targetCommit": before[0]}
    ]


@pytest.mark.parametrize(
    "path",
    [
        "/api/models/{user}/a%01b",
        "/api/models/{user}/target/tree/ma%00in",
        "/{user}/target/resolve/main/a%0Ab.txt",
        "/api/models/{user}/target/revision/%1Fmain",
        "/api/models?search=%00x",
        "/{user}/target",
    ],
)
def test_malformed_input_control_characters_in_urls_are_refused(live: LiveHub, setup, path: str) -> None:
    _, _, user = setup
    url = live.url + path.format(user=user)
    if path == "/{user}/target":
        url += "%7F"
    r = httpx.get(url)  # used to drop the connection: the message echoed the character into a header
    _assert_refused(r)
    assert "control character" in r.json()["error"]


def test_malformed_input_header_values_never_carry_control_characters(live: LiveHub) -> None:
    _, token = live.user()
    with api(live.url, token) as client:
        r = client.post("/api/v1/organizations", json={"name": "bad\x07\x1b[31mname\r\nX-Injected: 1"})
    assert r.status_code == 400 and "x-injected" not in r.headers
    assert "bad" in r.headers["x-error-message"]
    assert not re.search(r"[\x00-\x1f\x7f]", r.headers["x-error-message"])


def test_malformed_input_stale_or_forged_session_cookies_are_signed_out(live: LiveHub) -> None:
    name = f"ck{secrets.token_hex(3)}"
    from csghub.services.identity import accounts

    accounts.create_user(live.hub, name, email=f"{name}@example.com", password=PASSWORD)
    with httpx.Client(base_url=live.url) as browser:
        signed = browser.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        stale = browser.cookies["csghub_session"]
        assert f'class="me" href="/{name}"' in browser.get("/").text
        csrf = signed.json()["data"]["csrf_token"]
        assert browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    for cookie in (stale, "garbage", "x" * 4000, secrets.token_urlsafe(32)):
        for page in ("/", "/models", f"/{name}", "/settings"):
            r = httpx.get(f"{live.url}{page}", cookies={"csghub_session": cookie}, headers={"accept": "text/html"})
            assert r.status_code in (200, 303, 404), (page, r.status_code)
            if r.status_code == 303:
                assert r.headers["location"].startswith("/login")
            else:
                assert "text/html" in r.headers["content-type"] and 'class="me"' not in r.text
                assert 'href="/login?next=' in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/models/{repo}/discussions?p=²",
        "/api/models/{repo}/discussions?p=" + "9" * 30,
        "/api/collections?owner={user}&limit=²",
        "/api/v1/admin/audit?before=²",
        "/api/models/{repo}/discussions/" + "9" * 30,
    ],
)
def test_malformed_input_numbers_in_urls_that_are_not_numbers_are_refused(live: LiveHub, setup, path: str) -> None:
    client, repo, user = setup
    r = client.get(path.format(repo=repo, user=user))
    _assert_refused(r)
    assert "less than or equal" in r.json()["error"] or "whole number" in r.json()["error"]
    revoke = client.delete("/api/v1/user/tokens/" + "9" * 30)
    _assert_refused(revoke)


@pytest.mark.parametrize(
    "path",
    [
        "/api/models?cursor=" + "9" * 30,
        "/api/models/{repo}/tree/main?cursor=" + "9" * 30,
        "/models?page=" + "9" * 30,
        "/?page=²",
        "/{repo}/discussions?page=" + "9" * 30,
        "/{user}?page=" + "9" * 30,
    ],
)
def test_malformed_input_huge_cursors_and_pages_are_past_the_end(live: LiveHub, setup, path: str) -> None:
    client, repo, user = setup
    r = client.get(path.format(repo=repo, user=user), headers={"accept": "text/html"}, follow_redirects=True)
    assert r.status_code == 200, r.text[:300]
    if path.startswith("/api/"):
        assert r.json() == []  # past the last page: nothing, rather than the first page again
    else:
        assert "<html" in r.text
    if path.startswith(("/models", "/{user}", "/{repo}/discussions")):
        # A listing's page past the end leads to its last page, at that page's own URL.
        # (the module's other tests may have filled more than one page, so the last page may be page=2)
        assert [h.status_code for h in r.history] == [303] and "9" * 30 not in str(r.url)
        assert "page=" not in str(r.url) or (r.url.params["page"].isdigit() and int(r.url.params["page"]) < 100)
