"""What a newcomer meets on the API: unknown paths are 404 with the JSON error, a new repository holds
only `.gitattributes` (as on the Hub), and the API reference renders in a browser with no CDN."""

from __future__ import annotations

import httpx
import pytest

from tests.support.clients import api
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
