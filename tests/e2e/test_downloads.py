"""Downloads are counted (once per repository, address and hour) and drive the "most downloads" and
"trending" sorts of the API and the portal."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.clients import client_env, create_repo, git
from tests.support.live import LiveHub


def _from(address: str) -> httpx.Client:
    """A client whose requests come from another loopback address, as another machine's would."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def _downloads(live: LiveHub, repo: str, want: int) -> int:
    deadline = time.monotonic() + 20
    while True:
        seen = httpx.get(f"{live.url}/api/models/{repo}").json()["downloads"]
        if seen >= want or time.monotonic() > deadline:
            return int(seen)
        time.sleep(0.1)  # the counts are written every two seconds; poll for them


def test_downloads_are_counted_once_per_address_and_drive_the_sorts(live: LiveHub, tmp_path: Path) -> None:
    owner, token = live.user()
    quiet, busy = f"{owner}/quiet", f"{owner}/busy"
    create_repo(live.url, token, quiet)
    create_repo(live.url, token, busy)
    with _from("127.0.0.1") as client:
        for _ in range(3):  # one person fetching files of one repository is one download
            assert client.get(f"{live.url}/{quiet}/resolve/main/.gitattributes").status_code == 200
        assert client.head(f"{live.url}/{busy}/resolve/main/.gitattributes").status_code == 200  # HEAD is no download
    for address in ("127.0.0.2", "127.0.0.3"):
        with _from(address) as client:
            assert client.get(f"{live.url}/{busy}/resolve/main/.gitattributes").status_code == 200
    git("clone", "-q", f"{live.url}/{busy}", str(tmp_path / "clone"), cwd=tmp_path, env=client_env(tmp_path / "h"))

    assert _downloads(live, quiet, 1) == 1
    assert _downloads(live, busy, 3) == 3
    for sort in ("downloads", "trending_score"):
        listed = httpx.get(f"{live.url}/api/models", params={"author": owner, "sort": sort}).json()
        assert [m["id"] for m in listed] == [busy, quiet], sort
    page = httpx.get(f"{live.url}/models", params={"author": owner}, headers={"Accept": "text/html"}).text
    assert page.index(busy) < page.index(quiet), "the portal lists trending first by default"
