"""The home page of a fresh hub tells a newcomer what to do first, in English and Chinese."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveHubFactory
from tests.support.browser import sign_in, watch
from tests.support.clients import create_repo

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "a-long-password-1"


def test_fresh_home_page_shows_first_steps_until_something_is_shared(
    browser: Browser, live_hub_factory: LiveHubFactory
) -> None:
    live = live_hub_factory()
    context = browser.new_context()
    page = context.new_page()
    problems = watch(page)
    page.goto(live.url)
    steps = page.locator("#first-steps")
    expect(steps).to_contain_text("No public repositories yet")
    expect(steps.locator("a[href='/join']")).to_be_visible()
    expect(steps.locator("a[href='/login?next=/']")).to_be_visible()
    assert page.locator("h2", has_text="Trending models").count() == 0
    page.goto(f"{live.url}/lang/zh?next=/")
    expect(page.locator("#first-steps h2")).to_have_text("这里还什么都没有")
    expect(page.locator("#first-steps")).to_contain_text("此平台还没有公开的仓库")
    context.close()

    owner, token = live.user("new", password=PASSWORD)
    context, page, signed_in_problems = sign_in(browser, live.url, owner, PASSWORD)
    page.goto(live.url)
    steps = page.locator("#first-steps")
    expect(steps.locator("a[href='/new']")).to_be_visible()
    expect(steps.locator("code.hf-steps")).to_contain_text(f"HF_ENDPOINT={live.url}")
    expect(steps.locator("code.hf-steps")).to_contain_text(f'create_repo("{owner}/my-model"')
    expect(steps.locator("code.git-steps")).to_contain_text(f"git clone {live.url}/{owner}/my-model")

    # Once something is shared, the lists take its place.
    create_repo(live.url, token, f"{owner}/first")
    page.goto(live.url)
    expect(page.locator("h2", has_text="Recently updated models")).to_be_visible()
    expect(page.locator(".repo-list").first).to_contain_text(f"{owner}/first")
    assert page.locator("#first-steps").count() == 0
    assert problems == [] and signed_in_problems == []
    context.close()
