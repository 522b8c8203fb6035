"""The spaces' door /apps/{owner}/{name}/ on a live hub (served in this process, see
tests/support/space_apps.py): a static space's files, the isolation headers on every answer, an app's
HTTP, Server-Sent Events (each event as it is written) and WebSocket relayed without the hub's
credentials, private spaces hidden from everyone else, capabilities that open one space for one
visitor for a while, the pages of a space that is not running, and in Chromium: a malicious app that
tries to act with the visitor's session and gets nothing.

One hub for the module; tests keep apart by their own spaces."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets.sync.client
from huggingface_hub import HfApi
from playwright.sync_api import expect

from csghub.services.identity import accounts, tokens
from csghub.services.spaces import routing
from tests.support.browser import chromium, sign_in
from tests.support.space_apps import InProcessHub, Replica, in_process_hub, put_space, serve

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

SANDBOX = "sandbox allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads"
PASSWORD = "correct horse battery"
INDEX = (
    "<!doctype html><html><head><title>Hi</title></head><body><h1 id=hello>Hello from a static space</h1></body></html>"
)
# A space that tries everything a page of the hub could do with the visitor's session.
EVIL = """<!doctype html><html><body><pre id=out>running</pre><script>
(async () => {
  const out = {};
  const attempt = async (key, url, options) => {
    try { const r = await fetch(url, options); out[key] = r.status + ' ' + (await r.text()).slice(0, 300); }
    catch (e) { out[key] = 'error: ' + e.name; }
  };
  await attempt('whoami', '/api/whoami-v2', {credentials: 'include'});
  await attempt('create', '/api/repos/create', {method: 'POST', credentials: 'include',
    headers: {'content-type': 'application/json'}, body: JSON.stringify({type: 'model', name: 'stolen'})});
  await attempt('blind', '/api/repos/create', {method: 'POST', mode: 'no-cors', credentials: 'include',
    body: JSON.stringify({type: 'model', name: 'stolen2'})});
  await attempt('private', '/apps/VICTIM/diary/', {credentials: 'include'});
  await attempt('private_plain', '/apps/VICTIM/diary/', {});
  await attempt('own', './data.json', {});
  try { out.cookie = document.cookie; } catch (e) { out.cookie = 'error: ' + e.name; }
  try { out.parent = String(window.top.location.href); } catch (e) { out.parent = 'error: ' + e.name; }
  out.origin = self.origin;
  document.getElementById('out').textContent = JSON.stringify(out);
})();
</script></body></html>"""


@dataclass
class Door:
    live: InProcessHub
    owner: str
    token: str
    other: str
    other_token: str
    replica: Replica
    replica_url: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.live.url, headers=headers, timeout=30)

    def space(self, name: str, files: dict[str, str], *, private: bool = False, sdk: str = "static") -> str:
        repo = f"{self.owner}/{name}"
        hf = HfApi(endpoint=self.live.url, token=self.token)
        hf.create_repo(repo, repo_type="space", space_sdk=sdk, private=private)
        for path, text in files.items():
            hf.upload_file(path_or_fileobj=text.encode(), path_in_repo=path, repo_id=repo, repo_type="space")
        return repo


def _user(live: InProcessHub, prefix: str) -> tuple[str, str]:
    name = f"{prefix}{secrets.token_hex(4)}"
    accounts.create_user(live.hub, name, email=f"{name}@example.com", password=PASSWORD)
    return name, tokens.create_token(live.hub, name, scope="write")[0]


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    with in_process_hub(tmp_path_factory.mktemp("spaces") / "data") as live:
        owner, token = _user(live, "spowner")
        other, other_token = _user(live, "spother")
        replica = Replica(f"/apps/{owner}/relayed/")
        served = serve(replica.app())
        try:
            yield Door(live, owner, token, other, other_token, replica, served.url)
        finally:
            served.stop()


def _isolated(answer: httpx.Response) -> None:
    assert answer.headers["content-security-policy"].startswith(SANDBOX), answer.headers
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers
    assert "set-cookie" not in answer.headers


def test_static_space_serves_its_files_at_the_running_commit(door: Door) -> None:
    files = {"index.html": INDEX, "docs/index.html": "<p>docs</p>", "app.js": "let x = 1;", "a b.txt": "spaced"}
    repo = door.space("site", files)
    put_space(door.live.hub, repo, sdk="static")
    with door.client() as client:
        page = client.get(f"/apps/{repo}/")
        assert page.status_code == 200 and "Hello from a static space" in page.text
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        _isolated(page)
        etag = page.headers["etag"]
        assert client.get(f"/apps/{repo}/", headers={"if-none-match": etag}).status_code == 304
        script = client.get(f"/apps/{repo}/app.js")
        assert script.text == "let x = 1;" and "javascript" in script.headers["content-type"]
        assert client.get(f"/apps/{repo}").headers["location"] == f"/apps/{repo}/"
        assert client.get(f"/apps/{repo}/docs").headers["location"] == f"/apps/{repo}/docs/"
        assert client.get(f"/apps/{repo}/docs/").text == "<p>docs</p>"
        assert client.get(f"/apps/{repo}/a%20b.txt").text == "spaced"
        assert client.get(f"/apps/{repo}/docs/%2e%2e/%2e%2e/x").status_code == 404
        missing = client.get(f"/apps/{repo}/nope.html")
        assert missing.status_code == 404 and missing.json()["code"] == "EntryNotFound"
        post = client.post(f"/apps/{repo}/", content=b"x")
        assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"
        preflight = client.options(
            f"/apps/{repo}/x",
            headers={
                "origin": "null",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-headers"] == "content-type"
        _isolated(preflight)


def test_private_space_is_not_found_for_others_as_a_missing_one(door: Door) -> None:
    repo = door.space("hidden", {"index.html": INDEX}, private=True)
    put_space(door.live.hub, repo, sdk="static")
    with door.client() as anonymous, door.client(door.other_token) as other, door.client(door.token) as owner:
        for client in (anonymous, other):
            answer = client.get(f"/apps/{repo}/")
            missing = client.get(f"/apps/{door.owner}/no-such-space/")
            assert answer.status_code == missing.status_code == 404
            assert answer.json()["code"] == missing.json()["code"] == "RepoNotFound"
            _isolated(answer)
        assert "Hello from a static space" in owner.get(f"/apps/{repo}/").text


def test_capability_opens_one_space_for_its_visitor_until_it_expires(door: Door) -> None:
    mine = door.space("mine", {"index.html": INDEX}, private=True)
    theirs = f"{door.other}/theirs"
    HfApi(endpoint=door.live.url, token=door.other_token).create_repo(
        theirs, repo_type="space", space_sdk="static", private=True
    )
    HfApi(endpoint=door.live.url, token=door.other_token).upload_file(
        path_or_fileobj=INDEX.encode(), path_in_repo="index.html", repo_id=theirs, repo_type="space"
    )
    for repo in (mine, theirs):
        put_space(door.live.hub, repo, sdk="static")
    hub = door.live.hub
    visitor = accounts.actor_from_user_id(hub, _user_id(door, door.owner))
    route = routing.space_route(hub, visitor, *mine.split("/"))
    capability = routing.issue_capability(hub, visitor, route)
    expired = routing.issue_capability(hub, visitor, route, now=time.time() - routing.CAPABILITY_TTL - 5)
    with door.client() as anonymous:
        assert "Hello" in anonymous.get(f"/apps/{mine}/~{capability}/").text
        for url in (
            f"/apps/{theirs}/~{capability}/",
            f"/apps/{mine}/~{expired}/",
            f"/apps/{mine}/~{capability[:-2]}00/",
        ):
            answer = anonymous.get(url)
            assert answer.status_code == 404 and answer.json()["code"] == "RepoNotFound", url
        # The capability in the Referer of a request without one (an app's absolute URL).
        referred = anonymous.get(f"/apps/{mine}/", headers={"referer": f"{door.live.url}/apps/{mine}/~{capability}/"})
        assert "Hello" in referred.text


def _user_id(door: Door, name: str) -> int:
    found = accounts.find_user_view(door.live.hub, name)
    assert found is not None
    return found.id


def test_app_gets_requests_without_the_hub_credentials_and_answers_isolated(door: Door) -> None:
    repo = f"{door.owner}/relayed"
    door.space("relayed", {"app.py": "# the stand-in replica runs in the test"}, sdk="gradio")
    put_space(door.live.hub, repo, sdk="gradio", url=door.replica_url)
    with door.client(door.token) as client:
        client.cookies.set("csghub_session", "s3cret")
        client.cookies.set("app_cookie", "x")
        seen = client.get(f"/apps/{repo}/headers", headers={"x-forwarded-host": "evil.example"}).json()
        assert "authorization" not in seen and "cookie" not in seen
        assert seen["x-forwarded-host"] == door.live.url.removeprefix("http://")
        assert seen["x-forwarded-prefix"] == f"/apps/{repo}"
        planted = client.get(f"/apps/{repo}/cookies")
        assert planted.json() == {"set": True} and "clear-site-data" not in planted.headers
        _isolated(planted)
        assert client.get(f"/apps/{repo}/moved").headers["location"] == f"/apps/{repo}/ping"


def test_private_app_urls_keep_the_visitors_capability(door: Door) -> None:
    repo = f"{door.owner}/relayed"
    hub = door.live.hub
    visitor = accounts.actor_from_user_id(hub, _user_id(door, door.owner))
    capability = routing.issue_capability(hub, visitor, routing.space_route(hub, visitor, *repo.split("/")))
    with door.client() as anonymous:
        answer = anonymous.get(f"/apps/{repo}/~{capability}/root").json()
    own = f"{door.live.url}/apps/{repo}/~{capability}"
    assert answer == {"root": own, "file": f"{own}/f.png"}


def test_server_sent_events_reach_the_client_as_the_app_writes_them(door: Door) -> None:
    repo = f"{door.owner}/relayed"
    with door.client(door.token) as client, client.stream("GET", f"/apps/{repo}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        for event in ("one", "two", "end"):
            door.replica.release(event)  # the next one is written only after this one arrived
            assert next(line for line in lines if line) == f"data: {event}"


def test_websocket_is_relayed_both_ways_without_the_hub_cookie(door: Door) -> None:
    repo = f"{door.owner}/relayed"
    url = door.live.url.replace("http://", "ws://") + f"/apps/{repo}/ws"
    headers = {"authorization": f"Bearer {door.token}", "cookie": "csghub_session=s3cret"}
    with websockets.sync.client.connect(url, additional_headers=headers) as socket:
        socket.send("hi")
        assert socket.recv(timeout=10) == "echo: hi"
    assert "cookie" not in door.replica.seen[-1] and "authorization" not in door.replica.seen[-1]


@pytest.mark.parametrize(
    ("state", "desired", "stopped_as", "reason", "phase", "retry"),
    [
        ("building", "running", "", "", "building", True),
        ("stopped", "stopped", "sleeping", "", "waking", True),
        ("failed", "running", "", "build failed: No matching distribution found for nope", "build-failed", False),
        ("stopped", "stopped", "paused", "paused by its owner", "paused", False),
    ],
)
def test_space_not_running_answers_a_page_or_json_naming_its_state(
    door: Door, state: str, desired: str, stopped_as: str, reason: str, phase: str, retry: bool
) -> None:
    repo = f"{door.owner}/waiting-{phase}"
    door.space(f"waiting-{phase}", {"app.py": "print('hi')"}, sdk="gradio")
    put_space(door.live.hub, repo, sdk="gradio", state=state, desired=desired, stopped_as=stopped_as, reason=reason)
    with door.client() as client:
        page = client.get(f"/apps/{repo}/", headers={"accept": "text/html"})
        assert page.status_code == 503 and f'data-state="{phase}"' in page.text
        assert ('http-equiv="refresh"' in page.text) is retry and ("retry-after" in page.headers) is retry
        if reason:
            assert reason in page.text
        assert page.headers["content-security-policy"].startswith(SANDBOX)
        answer = client.get(f"/apps/{repo}/config")
        assert answer.status_code == 503 and answer.json()["code"] == "SpaceNotRunning"
        # The visit woke a sleeping space: it builds (starts) now.
        assert answer.json()["state"] == ("building" if phase == "waking" else phase), answer.json()
        assert ("retry-after" in answer.headers) is retry


def test_private_sleeping_space_is_woken_by_its_visitors_capability(door: Door) -> None:
    repo = door.space("dozing", {"app.py": "print('hi')"}, private=True, sdk="gradio")
    put_space(door.live.hub, repo, sdk="gradio", state="stopped", desired="stopped", stopped_as="sleeping")
    hub = door.live.hub
    visitor = accounts.actor_from_user_id(hub, _user_id(door, door.owner))
    capability = routing.issue_capability(hub, visitor, routing.space_route(hub, visitor, *repo.split("/")))
    with door.client() as anonymous:
        page = anonymous.get(f"/apps/{repo}/~{capability}/", headers={"accept": "text/html"})
        assert page.status_code == 503 and 'data-state="waking"' in page.text
        after = anonymous.get(f"/apps/{repo}/~{capability}/config").json()
        assert after["code"] == "SpaceNotRunning" and after["state"] == "building", after


def test_malicious_app_cannot_act_with_the_visitors_session(door: Door, tmp_path: Path) -> None:
    diary = door.space("diary", {"index.html": "<p>dear diary</p>"}, private=True)
    put_space(door.live.hub, diary, sdk="static")
    attacker, attacker_token = _user(door.live, "attacker")
    evil = f"{attacker}/evil"
    hf = HfApi(endpoint=door.live.url, token=attacker_token)
    hf.create_repo(evil, repo_type="space", space_sdk="static")
    hf.upload_file(
        path_or_fileobj=EVIL.replace("VICTIM", door.owner).encode(),
        path_in_repo="index.html",
        repo_id=evil,
        repo_type="space",
    )
    hf.upload_file(path_or_fileobj=b'{"own": true}', path_in_repo="data.json", repo_id=evil, repo_type="space")
    put_space(door.live.hub, evil, sdk="static")
    with chromium() as browser:
        context, page, _ = sign_in(browser, door.live.url, door.owner, PASSWORD)
        # The session works for the hub's own pages...
        assert door.owner in page.evaluate("fetch('/api/whoami-v2').then(r => r.text())")
        # ...and a private space of the visitor opens for them (through a capability).
        page.goto(f"{door.live.url}/apps/{diary}/")
        expect(page.locator("p")).to_have_text("dear diary")
        assert f"/apps/{diary}/~" in page.url
        for where in ("top", "iframe"):
            if where == "top":
                page.goto(f"{door.live.url}/apps/{evil}/")
                frame = page.main_frame
            else:
                page.goto(f"{door.live.url}/")
                page.evaluate(
                    "([src, sandbox]) => { const f = document.createElement('iframe'); f.src = src;"
                    " f.setAttribute('sandbox', sandbox); f.name = 'app'; document.body.append(f); }",
                    [f"/apps/{evil}/", SANDBOX.removeprefix("sandbox ")],
                )
                page.wait_for_function("() => window.frames.length > 0")
                found = page.frame(name="app")
                assert found is not None
                frame = found
            out = frame.locator("#out")
            expect(out).not_to_have_text("running", timeout=20_000)
            result = json.loads(out.inner_text())
            assert result["origin"] == "null", result
            assert result["whoami"].startswith("error") or door.owner not in result["whoami"], result
            assert result["create"].startswith("error") or result["create"].startswith("401"), result
            assert result["private"].startswith("error"), result  # "*" allows no credentials
            assert result["private_plain"].startswith("404") and "diary" in result["private_plain"], result
            assert "dear diary" not in json.dumps(result), result
            assert result["own"] == '200 {"own": true}', result
            assert result["cookie"].startswith("error"), result
            assert result["parent"].startswith("error") or where == "top", result
        context.close()
    with door.client(door.token) as client:
        names = {m["id"] for m in client.get("/api/models", params={"author": door.owner}).json()}
        assert not {f"{door.owner}/stolen", f"{door.owner}/stolen2"} & names
