"""Accounts over the API of a live hub: first administrator, registration policies, sessions with
CSRF, password changes, disabling, and bad input that must leave nothing half-created."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.conftest import LiveHubFactory
from tests.support.clients import api
from tests.support.live import LiveHub

PASSWORD = "correct horse battery"


def _name(prefix: str = "a") -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def _register(live: LiveHub, name: str, password: str = PASSWORD, **extra: str) -> httpx.Response:
    with api(live.url) as client:
        return client.post(
            "/api/v1/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": password, **extra},
        )


@contextmanager
def _session(live: LiveHub, name: str, password: str = PASSWORD) -> Iterator[tuple[httpx.Client, str]]:
    """A signed-in browser-like client and its CSRF token."""
    with api(live.url) as client:
        r = client.post("/api/v1/auth/login", json={"username": name, "password": password})
        assert r.status_code == 200, r.text
        assert "csghub_session" in r.cookies and "httponly" in r.headers["set-cookie"].lower()
        yield client, r.json()["data"]["csrf_token"]


def test_first_start_prints_a_one_time_setup_token_for_the_first_admin(live_hub_factory: LiveHubFactory) -> None:
    hub = live_hub_factory()
    assert hub.log_path is not None
    match = re.search(r'"token": "(setup_[^"]+)"', hub.log_path.read_text())
    assert match, hub.log_path.read_text()
    # Someone registering first does not take the setup away: it waits for the first administrator.
    assert _register(hub, "early").status_code == 201
    with api(hub.url) as client:
        wrong = client.post(
            "/api/v1/auth/setup", json={"token": "setup_nope", "username": "root", "password": PASSWORD}
        )
        assert wrong.status_code == 403
        made = client.post("/api/v1/auth/setup", json={"token": match[1], "username": "root", "password": PASSWORD})
        assert made.status_code == 201, made.text
        assert made.json()["data"]["is_admin"] is True
        again = client.post("/api/v1/auth/setup", json={"token": match[1], "username": "root2", "password": PASSWORD})
        assert again.status_code == 403
    with _session(hub, "root") as (admin, _):
        users = admin.get("/api/v1/admin/users").json()["data"]
    assert [(u["username"], u["is_admin"]) for u in users] == [("early", False), ("root", True)]


def test_register_login_session_and_logout(live: LiveHub) -> None:
    name = _name()
    r = _register(live, name)
    assert r.status_code == 201, r.text
    assert r.json()["data"]["username"] == name and "password" not in r.text
    with _session(live, name) as (client, csrf):
        me = client.get("/api/v1/user").json()["data"]
        assert me["username"] == name and me["is_admin"] is False
        # A cookie alone cannot change anything: cross-site forms would carry it too.
        forged = client.post("/api/v1/user/tokens", json={"name": "t", "scope": "read"})
        assert forged.status_code == 403 and forged.json()["code"] == "CsrfFailed"
        made = client.post("/api/v1/user/tokens", json={"name": "t", "scope": "read"}, headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201 and made.json()["data"]["token"].startswith("csg_")
        client.post("/api/v1/auth/logout")
        gone = client.get("/api/v1/user")
        assert gone.status_code == 401


def test_login_by_email_and_wrong_password(live: LiveHub) -> None:
    name = _name()
    assert _register(live, name).status_code == 201
    with api(live.url) as client:
        by_email = client.post("/api/v1/auth/login", json={"username": f"{name}@example.com", "password": PASSWORD})
        assert by_email.status_code == 200
        wrong = client.post("/api/v1/auth/login", json={"username": name, "password": "not the password"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "Invalid username or password"
        nobody = client.post("/api/v1/auth/login", json={"username": "nobody-here", "password": PASSWORD})
        assert nobody.status_code == 401 and nobody.json()["error"] == wrong.json()["error"]


def test_registration_refuses_bad_input_and_creates_nothing(live: LiveHub) -> None:
    from csghub.services.identity import accounts

    taken = _name()
    assert _register(live, taken).status_code == 201
    cases = {
        "short": (_name(), "abc", 400, "WeakPassword"),
        "common": (_name(), "password123", 400, "WeakPassword"),
        "contains name": ("zed" + secrets.token_hex(3), "", 400, "WeakPassword"),
        "reserved": ("api", PASSWORD, 400, "InvalidArgument"),
        "reserved route": ("models", PASSWORD, 400, "InvalidArgument"),
        "bad chars": ("a b/c", PASSWORD, 400, "InvalidArgument"),
        "taken": (taken, PASSWORD, 409, "NameTaken"),
        "taken other case": (taken.upper(), PASSWORD, 409, "NameTaken"),
    }
    for label, (name, password, status, code) in cases.items():
        r = _register(live, name, password or f"x{name}x-long-enough")
        assert (r.status_code, r.json()["code"]) == (status, code), (label, r.text)
        if name.lower() != taken.lower():
            assert accounts.find_user_view(live.hub, name) is None, label
    with api(live.url) as client:
        same_email = {"username": _name(), "email": f"{taken.upper()}@example.com", "password": PASSWORD}
        r = client.post("/api/v1/auth/register", json=same_email)
        assert r.status_code == 409 and r.json()["code"] == "EmailTaken"
        assert accounts.find_user_view(live.hub, same_email["username"]) is None
        r = client.post("/api/v1/auth/register", json={"username": _name(), "password": PASSWORD})
        assert r.status_code == 400 and "email" in r.json()["error"].lower()
        r = client.post(
            "/api/v1/auth/register", json={"username": _name(), "email": "no-at-sign", "password": PASSWORD}
        )
        assert r.status_code == 400 and "email" in r.json()["error"].lower()


def test_password_change_needs_the_old_password(live: LiveHub) -> None:
    name = _name()
    _register(live, name)
    with _session(live, name) as (client, csrf):
        h = {"X-CSRF-Token": csrf}
        wrong = client.put(
            "/api/v1/user/password", json={"old_password": "nope", "new_password": "a new passphrase"}, headers=h
        )
        assert wrong.status_code == 403
        weak = client.put("/api/v1/user/password", json={"old_password": PASSWORD, "new_password": "short"}, headers=h)
        assert weak.status_code == 400 and weak.json()["code"] == "WeakPassword"
        done = client.put(
            "/api/v1/user/password", json={"old_password": PASSWORD, "new_password": "a new passphrase"}, headers=h
        )
        assert done.status_code == 200
    with _session(live, name, "a new passphrase") as (client, _):
        assert client.get("/api/v1/user").json()["data"]["username"] == name
    with api(live.url) as anon:
        assert anon.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD}).status_code == 401


def _admin(live: LiveHub) -> tuple[str, str]:
    from csghub.services.identity import accounts, tokens

    name = _name("root")
    accounts.create_user(live.hub, name, email=f"{name}@example.com", password=PASSWORD, is_admin=True)
    return name, tokens.create_token(live.hub, name)[0]


def test_admin_disables_and_enables_an_account(live: LiveHub) -> None:
    _, admin_token = _admin(live)
    user, token = live.user(password=PASSWORD)
    with api(live.url, token) as client:
        assert client.get("/api/whoami-v2").json()["name"] == user
    with api(live.url, admin_token) as admin:
        r = admin.patch(f"/api/v1/admin/users/{user}", json={"disabled": True})
        assert r.status_code == 200 and r.json()["data"]["disabled"] is True
    with api(live.url, token) as client:
        r = client.get("/api/whoami-v2")
        assert r.status_code == 401 and r.json()["code"] == "AccountDisabled"
    with api(live.url) as anon:
        assert anon.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD}).status_code == 401
    with api(live.url, admin_token) as admin:
        assert admin.patch(f"/api/v1/admin/users/{user}", json={"disabled": False}).status_code == 200
    with api(live.url, token) as client:
        assert client.get("/api/whoami-v2").json()["name"] == user


def test_admin_resets_a_password_and_non_admins_cannot(live: LiveHub) -> None:
    _, admin_token = _admin(live)
    user, token = live.user(password=PASSWORD)
    with api(live.url, token) as client:
        r = client.put(f"/api/v1/admin/users/{user}/password", json={"password": "another passphrase"})
        assert r.status_code == 403
        assert client.get("/api/v1/admin/users").status_code == 403
    with api(live.url, admin_token) as admin:
        r = admin.put(f"/api/v1/admin/users/{user}/password", json={"password": "another passphrase"})
        assert r.status_code == 200
    with _session(live, user, "another passphrase") as (client, _):
        assert client.get("/api/v1/user").json()["data"]["username"] == user


def test_invite_only_registration(live_hub_factory: LiveHubFactory) -> None:
    hub = live_hub_factory({"CSGHUB_REGISTRATION": "invite"})
    _, admin_token = _admin(hub)
    name = _name()
    refused = _register(hub, name)
    assert refused.status_code == 403 and "invitation" in refused.json()["error"]
    with api(hub.url, admin_token) as admin:
        code = admin.post("/api/v1/admin/invites", json={"email": f"{name}@example.com"}).json()["data"]["invite_code"]
    other = _register(hub, _name(), invite_code=code)
    assert other.status_code == 403, "the code was issued for another email"
    assert _register(hub, name, invite_code=code).status_code == 201
    assert _register(hub, _name(), invite_code=code).status_code == 403, "codes work once"


def test_admin_only_registration(live_hub_factory: LiveHubFactory) -> None:
    hub = live_hub_factory({"CSGHUB_REGISTRATION": "admin"})
    _, admin_token = _admin(hub)
    assert _register(hub, _name()).status_code == 403
    name = _name()
    with api(hub.url, admin_token) as admin:
        r = admin.post("/api/v1/admin/users", json={"username": name, "email": f"{name}@x.org", "password": PASSWORD})
        assert r.status_code == 201
    with _session(hub, name) as (client, _):
        assert client.get("/api/v1/user").json()["data"]["username"] == name
