"""Likes, discussions and collections in a real browser (Debian's Chromium through Playwright) against a
live hub: a user likes a model and sees the count; opens a discussion whose markdown carries hostile
HTML that stays inert; another user comments; the author closes it; a collection gets a model from the
model's page; a private collection is a 404 page for a stranger. Screenshots land in docs/screenshots/."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import shot, sign_in
from tests.support.clients import create_repo
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "social passphrase 9"
HOSTILE = """Does this run on **CPU**?

<script>window.__pwned = "script"</script>
<img src="/nothing.png" onerror="window.__pwned = 'onerror'">
<a href="javascript:window.__pwned = 'link'">click me</a>
<div style="position:fixed;inset:0" onclick="window.__pwned = 'click'">overlay</div>
"""


def test_like_a_model_and_see_the_count(browser: Browser, live: LiveHub) -> None:
    owner, token = live.user("owner", password=PASSWORD)
    fan, _ = live.user("fan", password=PASSWORD)
    create_repo(live.url, token, f"{owner}/likeable")
    context, page, problems = sign_in(browser, live.url, fan, PASSWORD)
    page.goto(f"{live.url}/{owner}/likeable")
    expect(page.locator(".like-button")).to_contain_text("Like")
    expect(page.locator(".like-count")).to_have_text("0")
    page.click("button.like-button")
    page.wait_for_url(f"{live.url}/{owner}/likeable")
    expect(page.locator(".like-button")).to_contain_text("Liked")
    expect(page.locator(".like-count")).to_have_text("1")
    assert httpx.get(f"{live.url}/api/models/{owner}/likeable").json()["likes"] == 1
    # Liking from another tab is remembered there too; unliking takes it back.
    page.goto(f"{live.url}/{owner}/likeable/tree/main")
    expect(page.locator(".like-button")).to_have_attribute("aria-pressed", "true")
    page.click("button.like-button")
    page.wait_for_url(f"{live.url}/{owner}/likeable/tree/main")
    expect(page.locator(".like-count")).to_have_text("0")
    assert problems == []
    context.close()


def test_repositories_named_like_community_paths_still_reach_their_pages(live: LiveHub) -> None:
    owner, token = live.user("owner")
    create_repo(live.url, token, f"{owner}/discussions", repo_type="dataset")
    with httpx.Client(base_url=live.url) as client:
        page = client.get(f"/datasets/{owner}/discussions")
        assert page.status_code == 200 and f"{owner}/discussions" in page.text and "Dataset card" in page.text
        community = client.get(f"/datasets/{owner}/discussions/discussions")
        assert community.status_code == 200 and "No open discussions yet." in community.text


def test_discussion_with_hostile_markdown_a_reply_and_closing(browser: Browser, live: LiveHub) -> None:
    owner, token = live.user("owner", password=PASSWORD)
    author, _ = live.user("author", password=PASSWORD)
    helper, _ = live.user("helper", password=PASSWORD)
    create_repo(live.url, token, f"{owner}/talked-about")
    base = f"{live.url}/{owner}/talked-about"

    context, page, problems = sign_in(browser, live.url, author, PASSWORD)
    page.goto(base)
    page.click("nav.tabs a:has-text('Community')")
    page.wait_for_url(f"{base}/discussions")
    expect(page.locator("p.empty")).to_have_text("No open discussions yet.")
    page.click("a:has-text('New discussion')")
    page.fill("input[name=title]", "Runs on CPU?")
    page.fill("textarea[name=description]", HOSTILE)
    page.click("main form.stack-form button[type=submit]")
    page.wait_for_url(f"{base}/discussions/1")
    body = page.locator(".comment-body").first
    expect(body.locator("strong")).to_have_text("CPU")
    expect(body).to_contain_text("click me")
    assert body.locator("script").count() == 0 and body.locator("[onerror], [onclick], [style]").count() == 0
    assert page.evaluate("window.__pwned") is None
    page.click("text=click me")
    page.mouse.click(640, 400)
    assert page.evaluate("window.__pwned") is None
    expect(page.locator("form.status-form button")).to_have_text("Close discussion")
    context.close()

    context2, other, problems2 = sign_in(browser, live.url, helper, PASSWORD)
    other.goto(f"{base}/discussions/1")
    assert other.locator("form.status-form").count() == 0, "only the author or a writer may close it"
    other.fill("form.comment-form textarea[name=comment]", "Yes, with `torch` on **CPU** it is fine.")
    other.click("form.comment-form button[type=submit]")
    other.wait_for_url(f"{base}/discussions/1")
    reply = other.locator(".comment").nth(1)
    expect(reply.locator(".comment-head")).to_contain_text(helper)
    expect(reply.locator(".comment-body code")).to_have_text("torch")
    assert other.locator(".comment").first.locator("details.edit-comment").count() == 0, "not their comment"
    reply.locator("details.edit-comment summary").click()
    reply.locator("textarea[name=comment]").fill("Yes, with `torch` on **CPU** it is fine (about 2 tokens/s).")
    reply.locator("button[type=submit]").click()
    other.wait_for_url(f"{base}/discussions/1")
    reply = other.locator(".comment").nth(1)
    expect(reply.locator(".comment-body")).to_contain_text("about 2 tokens/s")
    expect(reply.locator(".comment-head")).to_contain_text("edited")
    other.fill("form.comment-form textarea[name=comment]", "   ")
    other.locator("form.comment-form textarea[name=comment]").evaluate("el => el.removeAttribute('required')")
    other.click("form.comment-form button[type=submit]")
    expect(other.locator("p.error")).to_have_text("The comment is empty")
    context2.close()

    context, page, more_problems = sign_in(browser, live.url, author, PASSWORD)
    page.goto(f"{base}/discussions/1")
    page.click("form.status-form button")
    page.wait_for_url(f"{base}/discussions/1")
    expect(page.locator(".discussion-head .status")).to_have_text("Closed")
    expect(page.locator(".status-event")).to_contain_text(f"{author} closed this discussion")
    shot(page, "discussion")
    page.goto(f"{base}/discussions")
    expect(page.locator("p.empty")).to_have_text("No open discussions yet.")
    page.click(".status-filter a:has-text('Closed')")
    expect(page.locator(".discussions li")).to_contain_text("Runs on CPU?")
    expect(page.locator(".discussions li .meta")).to_contain_text("💬 2")
    assert problems == [] and problems2 == [] and more_problems == []
    context.close()


def test_collection_gets_a_model_and_a_private_one_is_hidden(browser: Browser, live: LiveHub) -> None:
    owner, token = live.user("curator", password=PASSWORD)
    stranger, _ = live.user("stranger", password=PASSWORD)
    create_repo(live.url, token, f"{owner}/pick-one")
    create_repo(live.url, token, f"{owner}/hidden-pick", private=True)

    context, page, problems = sign_in(browser, live.url, owner, PASSWORD)
    page.goto(f"{live.url}/collections/{owner}")
    expect(page.locator("p.empty")).to_have_text("No collections yet.")
    page.click("main a:has-text('New collection')")
    page.fill("input[name=title]", "Small classifiers")
    page.fill("textarea[name=description]", "Models that fit on a laptop.")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live.url}/collections/{owner}/small-classifiers")
    expect(page.locator("p.empty")).to_contain_text("This collection is empty")

    for model, note in (("pick-one", "The best small one"), ("hidden-pick", "")):
        page.goto(f"{live.url}/{owner}/{model}")
        form = page.locator("section.add-to-collection form")
        form.locator("select[name=collection]").select_option(f"{owner}/small-classifiers")
        form.locator("input[name=note]").fill(note)
        form.locator("button[type=submit]").click()
        page.wait_for_url(f"{live.url}/collections/{owner}/small-classifiers")
    items = page.locator(".collection-items .repo-card")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text(f"{owner}/pick-one")
    expect(items.first.locator(".note")).to_have_text("The best small one")
    shot(page, "collection")

    # A stranger sees the public collection without the private model in it.
    context2, other, problems2 = sign_in(browser, live.url, stranger, PASSWORD)
    other.goto(f"{live.url}/collections/{owner}/small-classifiers")
    expect(other.locator(".collection-items .repo-card")).to_have_count(1)
    assert "hidden-pick" not in other.content() and other.locator("form[action$='/edit']").count() == 0

    page.goto(f"{live.url}/collections/{owner}/small-classifiers")
    page.select_option("aside select[name=visibility]", "private")
    page.click("aside button:has-text('Save')")
    page.wait_for_url(f"{live.url}/collections/{owner}/small-classifiers")
    expect(page.locator(".collection-head .badge")).to_have_text("Private")

    response = other.goto(f"{live.url}/collections/{owner}/small-classifiers")
    assert response is not None and response.status == 404
    expect(other.locator("h1")).to_have_text("Page not found")
    other.goto(f"{live.url}/collections/{owner}")
    expect(other.locator("p.empty")).to_have_text("No collections yet.")
    with httpx.Client(base_url=live.url) as anonymous:
        hidden = anonymous.get(f"/collections/{owner}/small-classifiers")
        assert hidden.status_code == 404 and "Small classifiers" not in hidden.text
    assert problems == [] and problems2 == []
    context.close()
    context2.close()
