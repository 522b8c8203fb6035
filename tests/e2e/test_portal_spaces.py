"""Spaces in the portal, in a real browser (Debian's Chromium through Playwright) against a live hub:
the /spaces listing filtered by SDK, with each card's title, emoji, state and the models and datasets it
declares (a private one never named to someone who may not see it); a running static space seen through
its page's sandboxed iframe; the settings' secrets (the value never shown again), variables and sleep
time; a space whose requirements.txt cannot install, shown as a build error with pip's own words.
Screenshots of the listing, a space, its settings and a failed build land in docs/screenshots/."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import shot, sign_in
from tests.support.clients import create_repo, write_file
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "spaces passphrase 5"


def _readme(sdk: str, **fields: str | list[str]) -> str:
    lines = ["---"] + ([f"sdk: {sdk}"] if sdk else [])
    for key, value in fields.items():
        lines.append(f"{key}: {value!r}" if isinstance(value, str) else f"{key}: [{', '.join(value)}]")
    return "\n".join([*lines, "---", "", "# A space", ""])


def _space(live: LiveHub, token: str, repo: str, readme: str, files: dict[str, str] | None = None) -> None:
    """A space repository with its app's files, then its README (the commit that declares the app)."""
    create_repo(live.url, token, repo, repo_type="space")
    for path, text in (files or {}).items():
        write_file(live.url, token, repo, path, text, repo_type="space")
    write_file(live.url, token, repo, "README.md", readme, repo_type="space")


def test_spaces_listing_filters_by_sdk_and_links_only_what_the_viewer_may_see(browser: Browser, live: LiveHub) -> None:
    owner, token = live.user("sp", password=PASSWORD)
    create_repo(live.url, token, f"{owner}/open-model")
    create_repo(live.url, token, f"{owner}/secret-model", private=True)
    create_repo(live.url, token, f"{owner}/capitals", repo_type="dataset")
    uses = {
        "models": [f"{owner}/open-model", f"{owner}/secret-model", "nobody/missing-model"],
        "datasets": [f"{owner}/capitals"],
    }
    _space(
        live,
        token,
        f"{owner}/hello-static",
        _readme("static", title="Hello page", emoji="👋", colorFrom="indigo", colorTo="pink", **uses),
        {"index.html": "<h1>Hello from a static space</h1>"},
    )
    _space(live, token, f"{owner}/in-docker", _readme("docker", title="Docker app"))
    _space(live, token, f"{owner}/just-files", "# Only files here\n")

    anonymous = httpx.get(f"{live.url}/spaces", params={"author": owner})
    assert anonymous.status_code == 200 and "Hello page" in anonymous.text
    assert "secret-model" not in anonymous.text and "missing-model" not in anonymous.text

    context, page, problems = sign_in(browser, live.url, owner, PASSWORD)
    page.goto(f"{live.url}/spaces?author={owner}")
    cards = page.locator(".results .repo-card")
    expect(cards).to_have_count(3)
    static = cards.filter(has_text="Hello page")
    expect(static).to_have_attribute("data-sdk", "static")
    expect(static).to_have_class("repo-card space-card from-indigo to-pink")
    expect(static.locator(".space-emoji")).to_have_text("👋")
    expect(static.locator(".sdk")).to_have_text("Static")
    # Its owner may read the private model: linked; the missing one is never linked.
    expect(static.locator("a.uses-model")).to_have_text([f"{owner}/open-model", f"{owner}/secret-model"])
    expect(static.locator("a.uses-dataset")).to_have_attribute("href", f"/datasets/{owner}/capitals")
    expect(cards.filter(has_text="Docker app").locator(".sdk")).to_have_text("No app")

    page.fill(".filter-form input[name=sdk]", "static")
    page.click(".filter-form button[type=submit]")
    page.wait_for_url(re.compile(r"[?&]sdk=static(&|$)"))
    expect(page.locator(".results .repo-card .name")).to_have_text([f"{owner}/hello-static"])
    shot(page, "spaces-listing")

    stranger, seen, _ = sign_in(browser, live.url, live.user("st", password=PASSWORD)[0], PASSWORD)
    seen.goto(f"{live.url}/spaces?author={owner}&sdk=static")
    expect(seen.locator("a.uses-model")).to_have_text([f"{owner}/open-model"])
    assert "secret-model" not in seen.content()
    assert problems == []
    stranger.close()
    context.close()
