"""Pull requests in a real browser (Debian's Chromium through Playwright) against a live hub: the PR page
(conversation, files changed, commits) fits a desktop and a 390 px phone in the light and dark themes,
in English and Chinese, without sideways scrolling or a script error; the Community tab lists pull
requests apart; a writer merges from the page and a conflicting one names its files instead of a merge
button."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from playwright.sync_api import Browser, expect

from tests.support.browser import shot, sign_in, watch
from tests.support.clients import create_repo
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "pulls passphrase 4"
WIDE = "w" * 300


@dataclass(frozen=True)
class Site:
    owner: str
    repo: str  # owner/proposals: #1 a clean pull request by a fan, #2 one that conflicts with main


def _add(path: str, text: str) -> CommitOperationAdd:
    return CommitOperationAdd(path_in_repo=path, path_or_fileobj=text.encode())


@pytest.fixture(scope="module")
def site(live: LiveHub) -> Site:
    owner, token = live.user("owner", password=PASSWORD)
    _, fan_token = live.user("fan")
    repo = f"{owner}/proposals{secrets.token_hex(2)}"
    create_repo(live.url, token, repo)
    hf, fan = HfApi(endpoint=live.url, token=token), HfApi(endpoint=live.url, token=fan_token)
    hf.create_commit(repo, [_add("shared.txt", "base\n")], commit_message="Start")
    fan.create_commit(
        repo,
        [_add("notes.py", f"print('{WIDE}')\n"), _add("shared.txt", "base\nand more\n")],
        commit_message="Add notes",
        commit_description="A **wide** line, to see that it scrolls inside its box.",
        create_pr=True,
    )
    fan.create_commit(repo, [_add("other.txt", "x\n")], commit_message="One more file", revision="refs/pr/1")
    fan.create_commit(repo, [_add("clash.txt", "fan\n")], commit_message="Clash", create_pr=True)
    hf.create_commit(repo, [_add("clash.txt", "owner\n")], commit_message="Owner's clash")
    return Site(owner=owner, repo=repo)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
def test_the_pull_request_page_fits_every_screen_theme_and_language(
    browser: Browser, live: LiveHub, site: Site, width: int, scheme: str, lang: str
) -> None:
    context = browser.new_context(color_scheme=scheme, viewport={"width": width, "height": 860})
    page = context.new_page()
    problems = watch(page)
    base = f"{live.url}/{site.repo}/discussions"
    page.goto(f"{live.url}/lang/{lang}?next=/{site.repo}/discussions/1")
    zh = lang == "zh"
    expect(page.locator("#pull-status")).to_have_text("进行中" if zh else "Open")
    expect(page.locator(".commit-event a")).to_have_text(["Add notes", "One more file"])
    expect(page.locator(".comment-body strong")).to_have_text("wide")
    for url in (f"{base}/1", f"{base}/1?tab=files", f"{base}/1?tab=commits", f"{base}?type=pull_request"):
        page.goto(url)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width, url
    page.goto(f"{base}/1?tab=files")
    expect(page.locator("#files-changed-tab")).to_have_text("文件变更" if zh else "Files changed")
    expect(page.locator(".file-diff")).to_have_count(3)
    expect(page.locator("tr.add .code").filter(has_text="and more")).to_have_count(1)
    page.goto(f"{base}?type=pull_request")
    expect(page.locator("#pull-requests-tab")).to_have_text("拉取请求" if zh else "Pull requests")
    expect(page.locator("ul.discussions li")).to_have_count(2)
    if width == 390 and scheme == "dark":
        page.goto(f"{base}/1?tab=files")
        shot(page, f"pull-request-files-phone-dark-{lang}")
    assert problems == []
    context.close()


def test_a_writer_merges_from_the_page_and_a_conflict_names_its_files(
    browser: Browser, live: LiveHub, site: Site
) -> None:
    context, page, problems = sign_in(browser, live.url, site.owner, PASSWORD)
    base = f"{live.url}/{site.repo}/discussions"
    page.goto(f"{base}/2")
    expect(page.locator(".merge-box.conflicts")).to_contain_text("clash.txt")
    expect(page.locator("#merge-button")).to_have_count(0)

    page.goto(f"{base}/1")
    shot(page, "pull-request-desktop")
    page.click("#merge-button")
    page.wait_for_url(f"{base}/1")
    expect(page.locator("#pull-status")).to_have_text("Merged")
    expect(page.locator(".merge-box.merged")).to_contain_text("Merged into")
    expect(page.locator("#merge-button")).to_have_count(0)
    details = HfApi(endpoint=live.url).get_discussion_details(site.repo, 1)
    assert details.status == "merged" and details.merge_commit_oid
    assert HfApi(endpoint=live.url).file_exists(site.repo, "notes.py")
    assert problems == []
    context.close()


def test_a_reader_proposes_an_edit_from_the_file_page_as_a_pull_request(
    browser: Browser, live: LiveHub, site: Site
) -> None:
    reader, _ = live.user("reader", password=PASSWORD)
    context, page, problems = sign_in(browser, live.url, reader, PASSWORD)
    page.goto(f"{live.url}/{site.repo}/blob/main/shared.txt")
    page.click("a.button:has-text('Edit')")
    expect(page.locator("p.pull-option")).to_contain_text("proposed as a pull request")
    expect(page.locator("input[name=new_branch]")).to_have_count(0)
    page.fill("textarea[name=content]", "base\nproposed from the browser\n")
    page.fill("input[name=summary]", "Propose from the browser")
    page.click("main form.edit-form button[type=submit]")
    page.wait_for_url(f"{live.url}/{site.repo}/discussions/*")
    expect(page.locator("#pull-status")).to_have_text("Open")
    expect(page.locator(".discussion-head h2")).to_contain_text("Propose from the browser")
    number = int(page.url.rsplit("/", 1)[1])
    details = HfApi(endpoint=live.url).get_discussion_details(site.repo, number)
    assert details.author == reader and "+proposed from the browser" in (details.diff or "")
    main = HfApi(endpoint=live.url).list_repo_commits(site.repo)[0]
    assert main.title != "Propose from the browser"  # the branch is untouched
    assert problems == []
    context.close()


@pytest.mark.parametrize("form", ["edit/main/shared.txt", "upload/main", "new/main"])
def test_a_visitor_opening_a_change_form_signs_in_and_comes_back_to_it(
    browser: Browser, live: LiveHub, site: Site, form: str
) -> None:
    reader, _ = live.user("visitor", password=PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    problems = watch(page)
    page.goto(f"{live.url}/{site.repo}/{form}")
    page.wait_for_url(re.compile(r".*/login\?next="))
    page.fill("input[name=username]", reader)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live.url}/{site.repo}/{form}")
    # Back on the form: a reader may propose an edit; uploads and new files need write access.
    if form.startswith("edit/"):
        expect(page.locator("p.pull-option")).to_contain_text("proposed as a pull request")
    else:
        assert page.locator("main form button[type=submit]").count() == 0
    assert problems == [], problems
    context.close()
