"""Enterprise sign-in on a live hub: LDAP passwords (a real slapd) for the API and for git, and
OpenID Connect (a real provider) in a browser-like flow; accounts appear on first sign-in and join
organizations by their groups."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import LiveHubFactory
from tests.support.clients import api, git, setup_git_home
from tests.support.live import LiveHub
from tests.support.oidc_provider import OidcClient, OidcProvider, OidcUser
from tests.support.slapd import GROUPS_BASE, PEOPLE_BASE, SERVICE_DN, LdapUser, Slapd

pytestmark = pytest.mark.engine_bound  # scripts/test runs it on SQLite only (pyproject.toml)

ALICE = LdapUser("alice", "alice-ldap-pass", "Alice Liddell", "Liddell", "alice@example.org")
BOB = LdapUser("bob", "bob-ldap-pass", "Bob Builder", "Builder", "bob@example.org")
CAROL = OidcUser("sub-carol", "carol", "carol-oidc-pass", "carol@example.org", "Carol Danvers", ("leads",))
DAN = OidcUser("sub-dan", "dan", "dan-oidc-pass", "dan@example.org", "Dan Brown", ())
CLIENT = OidcClient("csghub", "client-secret-1")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    server = Slapd(tmp_path_factory.mktemp("slapd"), users=(ALICE, BOB), groups={"ml": ("alice",)}).start()
    yield server
    server.stop()


def _org_with_private_model(hub: LiveHub, org: str) -> None:
    from csghub.services.identity import orgs

    owner, token = hub.user("own")
    orgs.create_org(hub.hub, org, owner=owner)
    with api(hub.url, token) as client:
        r = client.post("/api/repos/create", json={"name": "secret", "organization": org, "private": True})
        assert r.status_code == 200, r.text


def test_ldap_sign_in_creates_the_account_and_git_takes_the_ldap_password(
    live_hub_factory: LiveHubFactory, slapd: Slapd, tmp_path: Path
) -> None:
    hub = live_hub_factory(
        {
            "CSGHUB_LDAP_URL": slapd.url,
            "CSGHUB_LDAP_BIND_DN": SERVICE_DN,
            "CSGHUB_LDAP_BIND_PASSWORD": slapd.service_password,
            "CSGHUB_LDAP_USER_BASE": PEOPLE_BASE,
            "CSGHUB_LDAP_GROUP_BASE": GROUPS_BASE,
            "CSGHUB_SSO_GROUP_MAP": "ml=research:write",
        }
    )
    _org_with_private_model(hub, "research")
    with api(hub.url) as client:
        wrong = client.post("/api/v1/auth/login", json={"username": "alice", "password": "nope"})
        assert wrong.status_code == 401
        r = client.post("/api/v1/auth/login", json={"username": "alice", "password": ALICE.password})
        assert r.status_code == 200, r.text
        me = client.get("/api/v1/user").json()["data"]
        assert (me["username"], me["email"], me["full_name"], me["auth_source"]) == (
            "alice",
            ALICE.email,
            ALICE.full_name,
            "ldap",
        )
        csrf = r.json()["data"]["csrf_token"]
        change = client.put(
            "/api/v1/user/password",
            json={"old_password": ALICE.password, "new_password": "something else entirely"},
            headers={"X-CSRF-Token": csrf},
        )
        assert change.status_code == 400 and "LDAP" in change.json()["error"]
    members = httpx.get(f"{hub.url}/api/v1/organizations/research/members").json()["data"]
    assert {"user": "alice", "full_name": ALICE.full_name, "role": "write"} in members

    env = setup_git_home(tmp_path / "home")
    url = f"http://alice:{quote(ALICE.password)}@{hub.host()}/research/secret.git"
    git("clone", "-q", url, str(tmp_path / "w"), cwd=tmp_path, env=env)
    assert (tmp_path / "w" / ".gitattributes").exists()
    # Bob is in LDAP but in no mapped group: he signs in and sees public things only.
    with httpx.Client(base_url=hub.url, auth=("bob", BOB.password)) as bob:
        assert bob.get("/api/whoami-v2").json()["name"] == "bob"
        assert bob.get("/api/models/research/secret").status_code == 404


def test_ldap_never_takes_over_a_local_account(live_hub_factory: LiveHubFactory, slapd: Slapd) -> None:
    from csghub.services.identity import accounts

    hub = live_hub_factory(
        {
            "CSGHUB_LDAP_URL": slapd.url,
            "CSGHUB_LDAP_USER_BASE": PEOPLE_BASE,
            "CSGHUB_LDAP_BIND_DN": SERVICE_DN,
            "CSGHUB_LDAP_BIND_PASSWORD": slapd.service_password,
        }
    )
    accounts.create_user(hub.hub, "bob", email="bob@local.example", password="a local passphrase")
    with api(hub.url) as client:
        ldap_pw = client.post("/api/v1/auth/login", json={"username": "bob", "password": BOB.password})
        assert ldap_pw.status_code == 401
        local = client.post("/api/v1/auth/login", json={"username": "bob", "password": "a local passphrase"})
        assert local.status_code == 200 and local.json()["data"]["user"]["auth_source"] == "local"


def _oidc_sign_in(hub: LiveHub, provider: OidcProvider, user: OidcUser, client: httpx.Client) -> httpx.Response:
    """The browser's round trip: hub -> provider (log in) -> hub's callback -> the page it started from."""
    start = client.get("/api/v1/auth/oidc/login", params={"next": "/api/v1/user"})
    assert start.status_code == 302 and start.headers["location"].startswith(provider.issuer)
    params = provider.sign_in(start.headers["location"], user.username, user.password)
    return client.get("/api/v1/auth/oidc/callback", params=params)


def test_oidc_sign_in_with_pkce_creates_the_account_and_maps_groups(
    live_hub_factory: LiveHubFactory, tmp_path: Path
) -> None:
    port = _free_port()
    provider = OidcProvider(
        tmp_path / "oidc", f"http://127.0.0.1:{port}/api/v1/auth/oidc/callback", (CLIENT,), (CAROL, DAN)
    ).start()
    try:
        hub = live_hub_factory(
            {
                "CSGHUB_OIDC_ISSUER": provider.issuer,
                "CSGHUB_OIDC_CLIENT_ID": CLIENT.client_id,
                "CSGHUB_OIDC_CLIENT_SECRET": CLIENT.client_secret,
                "CSGHUB_SSO_GROUP_MAP": "leads=research:admin",
            },
            port=port,
        )
        _org_with_private_model(hub, "research")
        with httpx.Client(base_url=hub.url, timeout=30) as browser:
            done = _oidc_sign_in(hub, provider, CAROL, browser)
            assert done.status_code == 303 and done.headers["location"] == "/api/v1/user", done.text
            me = browser.get("/api/v1/user").json()["data"]
            assert (me["username"], me["email"], me["auth_source"]) == ("carol", CAROL.email, "oidc")
            assert browser.get("/api/models/research/secret").json()["id"] == "research/secret"
            # A callback replayed without the flow cookie is refused.
            browser.cookies.clear()
            assert browser.get("/api/v1/auth/oidc/callback", params={"code": "x", "state": "y"}).status_code == 401
        members = httpx.get(f"{hub.url}/api/v1/organizations/research/members").json()["data"]
        assert ("carol", "admin") in {(m["user"], m["role"]) for m in members}
        with httpx.Client(base_url=hub.url, timeout=30) as other:
            assert _oidc_sign_in(hub, provider, DAN, other).status_code == 303
            assert other.get("/api/models/research/secret").status_code == 404
    finally:
        provider.stop()


def test_oidc_routes_answer_404_when_not_configured(live: LiveHub) -> None:
    with api(live.url) as client:
        assert client.get("/api/v1/auth/oidc/login").status_code == 404
