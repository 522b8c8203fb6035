"""What a newcomer meets on the API: unknown paths are 404 with the JSON error, a new repository holds
only `.gitattributes` (as on the Hub), and the API reference renders in a browser with no CDN."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Route, expect

from tests.support.browser import watch
from tests.support.clients import api, create_repo
from tests.support.live import LiveHub


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/nothing"),
        ("POST", "/api/nothing"),
        ("GET", "/api/bogus/x/y"),
        ("DELETE", "/api/bogus/x/y"),
        ("GET", "/api/models/a/b/nothing"),
        ("GET", "/api/v1/nothing"),
        ("PUT", "/api/v1/bogus/x/y"),
        ("GET", "/hf/api/nothing"),
    ],
)
def test_unknown_api_path_is_not_found_in_json(live: LiveHub, method: str, path: str) -> None:
    # A browser's Accept still gets JSON under /api/: it is the API's answer, not a page.
    with httpx.Client(base_url=live.url, headers={"Accept": "text/html,application/json"}) as client:
        r = client.request(method, path)
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "NotFound" and r.json()["error"]
    assert r.headers["X-Error-Code"] == "NotFound"
    assert "allow" not in r.headers


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("DELETE", "/api/whoami-v2", "GET"), ("PUT", "/api/models/a/b", "GET"), ("GET", "/api/repos/create", "POST")],
)
def test_wrong_method_on_a_known_api_path_stays_405(live: LiveHub, method: str, path: str, allow: str) -> None:
    with api(live.url) as client:
        r = client.request(method, path)
    assert r.status_code == 405, r.text
    assert r.headers["Allow"] == allow
    assert r.json()["error"]


def test_api_reference_renders_its_operations_without_any_other_site(browser: Browser, live: LiveHub) -> None:
    hub_origin = urlsplit(live.url).netloc
    elsewhere: list[str] = []

    def only_the_hub(route: Route) -> None:
        # An offline install: anything not from the hub itself fails, as a CDN would.
        if urlsplit(route.request.url).netloc == hub_origin:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context = browser.new_context()
    page = context.new_page()
    problems = watch(page)
    page.route("**/*", only_the_hub)
    response = page.goto(f"{live.url}/api/docs")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    # The schema is large: rendering it takes seconds on a busy machine.
    expect(page.locator(".opblock-summary-path", has_text="/api/whoami-v2").first).to_be_visible(timeout=90_000)
    assert page.locator(".opblock").count() > 20
    expect(page.locator(".information-container .title")).to_contain_text("CSGHub")
    assert problems == [] and elsewhere == []
    context.close()


def test_new_repository_holds_only_gitattributes(live: LiveHub) -> None:
    user, token = live.user()
    create_repo(live.url, token, f"{user}/bare")
    with api(live.url, token) as client:
        r = client.post("/api/v1/datasets", json={"name": "bare-data", "namespace": user})
        assert r.status_code == 200, r.text
        model = client.get(f"/api/models/{user}/bare").json()
        dataset = client.get(f"/api/datasets/{user}/bare-data").json()
    assert [s["rfilename"] for s in model["siblings"]] == [".gitattributes"]
    assert [s["rfilename"] for s in dataset["siblings"]] == [".gitattributes"]
    assert model.get("cardData", {}) == {}
