"""Abuse limits on a live hub with small, configured limits: failed sign-ins lock an account and an
address (429 with Retry-After, even for the right password), token guessing is throttled the same
way, and API requests over the rate limit get 429 with Retry-After."""

from __future__ import annotations

import httpx

from tests.conftest import LiveHubFactory
from tests.support.clients import api

PASSWORD = "throttle passphrase"


def _login(url: str, name: str, password: str) -> httpx.Response:
    with api(url) as client:
        return client.post("/api/v1/auth/login", json={"username": name, "password": password})


def test_failed_logins_lock_the_account_then_the_address(live_hub_factory: LiveHubFactory) -> None:
    hub = live_hub_factory(
        {
            "CSGHUB_LOGIN_MAX_FAILURES_PER_ACCOUNT": "3",
            "CSGHUB_LOGIN_MAX_FAILURES_PER_ADDRESS": "5",
            "CSGHUB_LOGIN_LOCKOUT": "600",
        }
    )
    victim, _ = hub.user(password=PASSWORD)
    bystander, _ = hub.user(password=PASSWORD)
    statuses = [_login(hub.url, victim, f"guess {i}").status_code for i in range(3)]
    assert statuses == [401, 401, 401]
    locked = _login(hub.url, victim, PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 500
    assert "account" in locked.json()["error"]
    # Another account from the same address still signs in, until the address is over its own limit.
    assert _login(hub.url, bystander, PASSWORD).status_code == 200
    more = [_login(hub.url, bystander, f"guess {i}").status_code for i in range(2)]
    assert more == [401, 401]
    blocked = _login(hub.url, bystander, PASSWORD)
    assert blocked.status_code == 429 and "address" in blocked.json()["error"]
    # git's password prompt is a sign-in too.
    with httpx.Client(base_url=hub.url, auth=(bystander, PASSWORD)) as client:
        assert client.get("/api/whoami-v2").status_code == 429


def test_guessing_tokens_is_throttled_per_address(live_hub_factory: LiveHubFactory) -> None:
    hub = live_hub_factory({"CSGHUB_LOGIN_MAX_FAILURES_PER_ADDRESS": "5"})
    _, token = hub.user()
    codes = []
    for i in range(7):
        with api(hub.url, f"csg_guess{i:04d}") as client:
            codes.append(client.get("/api/whoami-v2").status_code)
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    with api(hub.url, token) as client:
        r = client.get("/api/whoami-v2")
    assert r.status_code == 429 and "retry-after" in r.headers, "a right guess must not be told apart"


def test_api_rate_limit_per_token_and_per_address(live_hub_factory: LiveHubFactory) -> None:
    hub = live_hub_factory({"CSGHUB_RATE_LIMIT_PER_TOKEN": "20", "CSGHUB_RATE_LIMIT_PER_ADDRESS": "10"})
    user, token = hub.user()
    _, other_token = hub.user()
    with api(hub.url, token) as client:
        codes = [client.get(f"/api/models/{user}/none").status_code for _ in range(25)]
        assert codes[:20] == [404] * 20 and set(codes[20:]) == {429}
        limited = client.get("/api/whoami-v2")
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.json()["code"] == "RateLimited"
    with api(hub.url, other_token) as client:
        assert client.get("/api/whoami-v2").status_code == 200, "each token has its own bucket"
    with api(hub.url) as anon:
        codes = [anon.get("/api/models").status_code for _ in range(12)]
        assert codes[:10] == [200] * 10 and codes[10:] == [429, 429]
        assert anon.get("/health").status_code == 200, "health checks are never limited"
        # A space's app has its own bucket per address and space (a credential's size): the API's
        # exhausted one does not stop it, and its own runs out only for that space.
        app_codes = [anon.get(f"/apps/{user}/app/x").status_code for _ in range(22)]
        assert app_codes[:20] == [404] * 20 and set(app_codes[20:]) == {429}
        assert anon.get(f"/apps/{user}/other/").status_code == 404


def test_a_trusted_proxy_passes_on_the_client_address(live_hub_factory: LiveHubFactory) -> None:
    from csghub.services import audit
    from csghub.services.identity import accounts

    for trusted, expected in (("127.0.0.1", "203.0.113.7"), ("10.9.9.9", "127.0.0.1")):
        hub = live_hub_factory({"CSGHUB_TRUSTED_PROXIES": trusted, "CSGHUB_LOGIN_MAX_FAILURES_PER_ADDRESS": "2"})
        root = accounts.create_user(hub.hub, "root", email="root@example.com", password=PASSWORD, is_admin=True)
        admin = accounts.actor_from_user_id(hub.hub, root.id)
        with api(hub.url) as client:
            for _ in range(2):
                client.post(
                    "/api/v1/auth/login",
                    json={"username": "root", "password": "wrong"},
                    headers={"X-Forwarded-For": "203.0.113.7"},
                )
            # The lock is on the address the hub believes: another forwarded client is not locked out.
            other = client.post(
                "/api/v1/auth/login",
                json={"username": "root", "password": PASSWORD},
                headers={"X-Forwarded-For": "198.51.100.1"},
            )
        failed = audit.list_events(hub.hub, admin, action="login.failed")
        assert {e.remote_addr for e in failed} == {expected}, trusted
        assert other.status_code == (200 if trusted == "127.0.0.1" else 429), trusted
