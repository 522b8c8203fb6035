"""Mirror sources over the live API: administrators add, change and remove them; nobody else sees them;
the token never comes back; URLs the outbound rules refuse are refused with a 400 that says why."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import delete

from csghub.core.names import RepoId, RepoType
from csghub.db.models import Mirror
from csghub.services.identity import accounts, tokens
from csghub.services.permissions import Actor
from csghub.services.repositories import repos
from tests.conftest import LiveHubFactory, start_hub
from tests.support.clients import api, create_repo
from tests.support.live import LiveHub

SOURCES = "/api/v1/mirror/sources"
TOKEN = "hf_" + "S3cr3tT0ken" * 4


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    """A hub with the default outbound rules (loopback refused)."""
    started = start_hub(tmp_path_factory.mktemp("mirror-sources") / "data")
    yield started
    started.stop()


def admin_token(live: LiveHub) -> str:
    name = f"root{secrets.token_hex(4)}"
    accounts.create_user(live.hub, name, email=f"{name}@example.com", is_admin=True)
    return tokens.create_token(live.hub, name, scope="write")[0]


def _source(client: httpx.Client, **fields: object) -> httpx.Response:
    body = {"source_name": f"src{secrets.token_hex(3)}", "base_url": "https://93.184.216.34/", **fields}
    return client.post(SOURCES, json=body)


def test_admin_creates_lists_updates_and_deletes_a_source(hub: LiveHub) -> None:
    with api(hub.url, admin_token(hub)) as client:
        rules = [{"pattern": "models/*", "action": "allow"}]
        created = _source(client, token=TOKEN, max_concurrency=3, proxy_rules=rules)
        assert created.status_code == 200, created.text
        source = created.json()["data"]
        assert source["base_url"] == "https://93.184.216.34" and source["has_token"] is True
        assert source["max_concurrency"] == 3 and source["proxy_rules"] == rules
        name = source["source_name"]

        listed = client.get(SOURCES).json()["data"]
        assert name in [s["source_name"] for s in listed]
        by_id = client.get(f"{SOURCES}/{source['id']}").json()["data"]
        assert by_id["source_name"] == name and client.get(f"{SOURCES}/{name}").json()["data"]["id"] == source["id"]

        changed = client.put(f"{SOURCES}/{name}", json={"bandwidth_bytes_per_s": 1000, "use_git": False})
        assert changed.status_code == 200, changed.text
        data = changed.json()["data"]
        assert data["bandwidth_bytes_per_s"] == 1000 and data["use_git"] is False and data["has_token"] is True
        cleared = client.put(f"{SOURCES}/{name}", json={"token": ""}).json()["data"]
        assert cleared["has_token"] is False
        ours = client.post(SOURCES, json={"name": f"{name}-b", "base_url": "https://93.184.216.34/hub"})
        assert ours.status_code == 200 and ours.json()["data"]["source_name"] == f"{name}-b"
        csg = client.post(SOURCES, json={"source_name": f"{name}-c", "info_api_url": "https://93.184.216.34"})
        assert csg.status_code == 200 and csg.json()["data"]["info_api_url"] == "https://93.184.216.34"

        assert client.delete(f"{SOURCES}/{name}").json() == {"msg": "OK", "data": None}
        gone = client.get(f"{SOURCES}/{name}")
        assert gone.status_code == 404 and gone.json()["code"] == "MirrorSourceNotFound"


def test_token_never_in_any_answer(hub: LiveHub) -> None:
    with api(hub.url, admin_token(hub)) as client:
        created = _source(client, token=TOKEN)
        name = created.json()["data"]["source_name"]
        answers = [
            created,
            client.get(SOURCES),
            client.get(f"{SOURCES}/{name}"),
            client.put(f"{SOURCES}/{name}", json={"max_concurrency": 4}),
            client.put(f"{SOURCES}/{name}", json={"max_concurrency": 0}),  # an error answer too
        ]
    assert answers[-1].status_code == 400
    for answer in answers:
        assert TOKEN not in answer.text and "S3cr3t" not in answer.text
    log = hub.log_path.read_text(errors="replace") if hub.log_path else ""
    assert "S3cr3t" not in log


def test_non_admin_is_refused_and_anonymous_must_sign_in(hub: LiveHub) -> None:
    _user, token = hub.user()
    with api(hub.url, token) as client:
        for method, path in (("GET", SOURCES), ("POST", SOURCES), ("GET", f"{SOURCES}/1"), ("DELETE", f"{SOURCES}/1")):
            answer = client.request(method, path, json={"source_name": "x", "base_url": "https://93.184.216.34"})
            assert answer.status_code == 403, (method, path, answer.text)
            assert answer.json()["code"] == "PermissionDenied"
    anonymous = httpx.get(f"{hub.url}{SOURCES}")
    assert anonymous.status_code == 401 and "error" in anonymous.json()


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:1/",
        "http://localhost/",
        "http://2130706433/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest",
        "http://10.0.0.1/",
        "file:///etc/passwd",
        "http://user:pw@93.184.216.34/",
    ],
)
def test_refused_base_url_is_400_with_reason(hub: LiveHub, base_url: str) -> None:
    with api(hub.url, admin_token(hub)) as client:
        answer = _source(client, base_url=base_url)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "OutboundRefused" and answer.json()["error"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"source_name": "ok"}, "required"),
        ({"source_name": "bad name", "base_url": "https://93.184.216.34"}, "source name"),
        ({"source_name": "123", "base_url": "https://93.184.216.34"}, "source name"),
        ({"source_name": "n1", "base_url": 5}, "must be a string"),
        ({"source_name": "n2", "base_url": "https://93.184.216.34", "max_concurrency": 0}, "max_concurrency"),
        ({"source_name": "n3", "base_url": "https://93.184.216.34", "max_concurrency": "2"}, "whole number"),
        ({"source_name": "n4", "base_url": "https://93.184.216.34", "token": "a b\r\nX: y"}, "token"),
        ({"source_name": "n5", "base_url": "https://93.184.216.34", "proxy_rules": [{"pattern": "*"}]}, "proxy rule"),
        ({"source_name": "n6", "base_url": "https://93.184.216.34/?q=1"}, "query"),
        ({"source_name": "n7", "base_url": "https://93.184.216.34", "use_git": "yes"}, "true or false"),
    ],
)
def test_bad_input_is_400_with_json(hub: LiveHub, body: dict[str, object], words: str) -> None:
    with api(hub.url, admin_token(hub)) as client:
        answer = client.post(SOURCES, json=body)
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["error"]


def test_duplicate_name_is_409_and_missing_source_404(hub: LiveHub) -> None:
    with api(hub.url, admin_token(hub)) as client:
        name = _source(client).json()["data"]["source_name"]
        again = client.post(SOURCES, json={"source_name": name, "base_url": "https://93.184.216.34"})
        assert again.status_code == 409 and name in again.json()["error"]
        other = _source(client).json()["data"]["source_name"]
        renamed = client.put(f"{SOURCES}/{other}", json={"source_name": name})
        assert renamed.status_code == 409
        missing = client.put(f"{SOURCES}/nope-{secrets.token_hex(3)}", json={"max_concurrency": 2})
        assert missing.status_code == 404
        for odd in ("9" * 40, "\u00b2", "%00"):
            answer = client.get(f"{SOURCES}/{odd}")
            assert answer.status_code in (400, 404) and "error" in answer.json(), (odd, answer.text)


def test_source_in_use_is_not_deleted(hub: LiveHub) -> None:
    owner, user_token = hub.user()
    create_repo(hub.url, user_token, f"{owner}/copy")
    with api(hub.url, admin_token(hub)) as client:
        source = _source(client).json()["data"]
        repo = repos.get_repo(hub.hub, Actor(user_id=0, is_admin=True), RepoType.MODEL, RepoId.parse(f"{owner}/copy"))
        with hub.hub.db() as session:
            session.add(Mirror(repo_id=repo.id, source_id=source["id"], upstream_type="model", upstream_id="a/b"))
        assert client.get(f"{SOURCES}/{source['id']}").json()["data"]["mirrors"] == 1
        refused = client.delete(f"{SOURCES}/{source['id']}")
        assert refused.status_code == 409 and "used by 1 mirror" in refused.json()["error"]
        with hub.hub.db() as session:
            session.execute(delete(Mirror).where(Mirror.repo_id == repo.id))
        assert client.delete(f"{SOURCES}/{source['id']}").status_code == 200


def test_loopback_source_allowed_when_the_hub_allows_it(live_hub_factory: LiveHubFactory) -> None:
    allowed = live_hub_factory({"CSGHUB_OUTBOUND_ALLOW_HOSTS": "127.0.0.1"})
    with api(allowed.url, admin_token(allowed)) as client:
        ok = _source(client, base_url=f"{allowed.url}/")
        assert ok.status_code == 200, ok.text
        assert ok.json()["data"]["base_url"] == allowed.url
        refused = _source(client, base_url="http://127.0.0.2/")
        assert refused.status_code == 400 and refused.json()["code"] == "OutboundRefused"
