"""Finding things in a real browser (Debian's Chromium through Playwright) against a live hub, on a
1280 px desktop and a 390 px phone, light and dark, in English and Chinese: typing in the header shows
quick results that the keyboard walks (Enter opens one, Escape closes), and the form still works
without JavaScript; the listings' chips filter, show what is chosen, drop it again and recount; a
fresh hub, a search without results and an empty listing each show the first steps with this hub's
address. No page scrolls sideways or logs a script error, and another user's private model is never
shown or counted."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from csghub.core.names import RepoId, RepoType
from csghub.git.lfs import LfsPointer
from csghub.services.permissions import ANONYMOUS
from csghub.services.repositories import lfs, repos
from tests.conftest import LiveHubFactory
from tests.support.browser import shot, sign_in, watch
from tests.support.clients import create_repo, write_file
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "finding passphrase 4"
GB = 1000**3
# (width, height, colour scheme, language): the sizes, themes and languages the issue asks for.
# Each pair (the first two, the last two) covers both sizes, both themes and both languages.
LOOKS = {
    "desktop-light-en": (1280, 860, "light", "en-US"),
    "phone-dark-zh": (390, 844, "dark", "zh-CN"),
    "desktop-dark-zh": (1280, 860, "dark", "zh-CN"),
    "phone-light-en": (390, 844, "light", "en-US"),
}
CARDS = {
    "classify": "text-classification\nlibrary_name: transformers\nlicense: mit\nlanguage: en",
    "translate": "translation\nlibrary_name: transformers\nlicense: apache-2.0\nlanguage: fr",
    "large": "text-classification\nlibrary_name: pytorch\nlicense: apache-2.0\nlanguage: en",
}


@dataclass(frozen=True)
class Site:
    owner: str
    word: str


def _card(fields: str) -> str:
    return f"---\npipeline_tag: {fields}\n---\n# A model\n"


@pytest.fixture(scope="module")
def site(live: LiveHub) -> Site:
    owner, token = live.user("finder", password=PASSWORD)
    stranger, stranger_token = live.user("other")
    word = f"ibis{secrets.token_hex(3)}"
    for name, fields in CARDS.items():
        create_repo(live.url, token, f"{owner}/{word}-{name}")
        write_file(live.url, token, f"{owner}/{word}-{name}", "README.md", _card(fields))
    create_repo(live.url, token, f"{owner}/{word}-data", repo_type="dataset")
    # Another user's private model with the same word, task and license: never shown, never counted.
    create_repo(live.url, stranger_token, f"{stranger}/{word}-secret", private=True)
    write_file(live.url, stranger_token, f"{stranger}/{word}-secret", "README.md", _card(CARDS["classify"]))
    # Twelve gigabytes of weights, as a push of them would record (the size facet reads the stored objects).
    large = repos.get_repo(live.hub, ANONYMOUS, RepoType.MODEL, RepoId(owner, f"{word}-large"))
    lfs.link_objects(live.hub, large.id, [LfsPointer(secrets.token_hex(32), 12 * GB)])
    return Site(owner, word)


def _open(browser: Browser, look: str, *, javascript: bool = True) -> tuple[BrowserContext, Page, list[str]]:
    width, height, scheme, locale = LOOKS[look]
    context = browser.new_context(
        viewport={"width": width, "height": height},
        color_scheme="dark" if scheme == "dark" else "light",
        locale=locale,
        java_script_enabled=javascript,
    )
    page = context.new_page()
    problems = watch(page)
    # Stricter than watch(): any console error at all (a failed request, a script's own report).
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    return context, page, problems


def _fits(page: Page) -> None:
    width = page.evaluate("window.innerWidth")
    assert page.evaluate("document.scrollingElement.scrollWidth") == width, f"{page.url} scrolls sideways"


@pytest.mark.parametrize("look", list(LOOKS))
def test_typing_in_the_header_shows_quick_results_and_enter_opens_one(
    browser: Browser, live: LiveHub, site: Site, look: str
) -> None:
    context, page, problems = _open(browser, look)
    page.goto(f"{live.url}/")
    box = page.locator("header input[name=search]")
    box.press_sequentially(site.word, delay=20)
    dropdown = page.locator("header [data-quicksearch]")
    expect(dropdown).to_be_visible()
    options = dropdown.locator("[role=option]")
    # Three models, the dataset, and "see all results".
    expect(options).to_have_count(5)
    expect(dropdown).to_contain_text("模型" if look.endswith("zh") else "Models")
    expect(dropdown).to_contain_text("查看全部结果" if look.endswith("zh") else "See all results")
    assert "secret" not in dropdown.inner_text()
    _fits(page)
    if look == "desktop-light-en":
        shot(page, "quick-search")

    box.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", options.first.get_attribute("id") or "")
    box.press("ArrowUp")  # back to the box itself
    expect(box).not_to_have_attribute("aria-activedescendant", re.compile("."))
    box.press("Escape")
    expect(dropdown).to_be_hidden()
    box.press("ArrowDown")  # opens it again on what was found
    expect(dropdown).to_be_visible()
    box.press("ArrowDown")
    first = options.first.locator("a").get_attribute("href")
    box.press("Enter")
    page.wait_for_url(f"{live.url}{first}")
    expect(page.locator(".repo-head h1")).to_contain_text(site.word)
    assert problems == []
    context.close()


def test_a_later_answer_keeps_what_the_arrows_chose(browser: Browser, live: LiveHub, site: Site) -> None:
    """An answer that lands after the arrows moved (the same words asked again, or a slower request)
    redraws the list but keeps the chosen result, so Enter opens what the user saw highlighted."""
    context, page, problems = _open(browser, "desktop-light-en")
    page.goto(f"{live.url}/")
    box = page.locator("header input[name=search]")
    box.press_sequentially(site.word, delay=20)
    options = page.locator("header [data-quicksearch] [role=option]")
    expect(options).to_have_count(5)
    box.press("ArrowDown")
    box.press("ArrowDown")
    chosen = options.nth(1)
    expect(chosen).to_have_attribute("aria-selected", "true")
    href = chosen.locator("a").get_attribute("href")
    chosen.evaluate("option => { option.dataset.before = 'yes'; }")
    box.dispatch_event("input")  # asks again for the same words
    # The list is drawn anew: its options are new elements, without the mark.
    page.wait_for_function(
        "() => { const o = document.getElementById('quicksearch-1'); return o && !o.dataset.before; }"
    )
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", "quicksearch-1")
    box.press("Enter")
    page.wait_for_url(f"{live.url}{href}")
    assert problems == []
    context.close()


def test_the_header_search_works_without_javascript(browser: Browser, live: LiveHub, site: Site) -> None:
    context, page, _ = _open(browser, "phone-dark-zh", javascript=False)
    page.goto(f"{live.url}/")
    page.fill("header input[name=search]", site.word)
    page.press("header input[name=search]", "Enter")
    page.wait_for_url(re.compile(r"/search\?search="))
    expect(page.locator("section[data-type=models] h2 .count")).to_have_text("3")
    expect(page.locator("a.chip[data-type=datasets] .chip-count")).to_have_text("1")
    assert "secret" not in page.inner_text("main")
    _fits(page)
    context.close()


def _chip(page: Page, facet: str, value: str) -> tuple[Locator, Locator]:
    chip = page.locator(f"aside a.chip[data-facet='{facet}'][data-value='{value}']")
    return chip, chip.locator(".chip-count")


@pytest.mark.parametrize("look", ["desktop-light-en", "phone-dark-zh"])
def test_chips_filter_the_listing_and_their_counts_follow(
    browser: Browser, live: LiveHub, site: Site, look: str
) -> None:
    context, page, problems = _open(browser, look)
    page.goto(f"{live.url}/models?search={site.word}")
    counts = page.locator("main h1 .count")
    expect(counts).to_contain_text("3")
    task_count = _chip(page, "task", "text-classification")[1]
    expect(task_count).to_have_text("2")  # the stranger's private classifier is not counted
    expect(_chip(page, "storage", ">10GB")[1]).to_have_text("1")
    expect(_chip(page, "storage", "<1GB")[1]).to_have_text("2")
    expect(page.locator("aside .chip-group[data-facet=license] h3 svg use")).to_have_attribute(
        "href", "/static/facets.svg#license"
    )
    _fits(page)
    if look == "desktop-light-en":
        shot(page, "listing-chips")

    apache, _ = _chip(page, "license", "apache-2.0")
    apache.click()
    page.wait_for_url(re.compile(r"license=apache-2.0"))
    expect(counts).to_contain_text("2")
    expect(_chip(page, "license", "apache-2.0")[0]).to_have_attribute("aria-current", "true")
    expect(task_count).to_have_text("1")  # only the large one of the classifiers is apache-licensed
    expect(_chip(page, "task", "translation")[1]).to_have_text("1")
    expect(_chip(page, "license", "mit")[1]).to_have_text("1")  # its own facet is not narrowed: a swap

    _chip(page, "storage", ">10GB")[0].click()
    page.wait_for_url(re.compile(r"storage=%3E10GB"))
    assert "license=apache-2.0" in page.url, "filters combine in the URL"
    expect(page.locator(".results .repo-card .name")).to_have_text([f"{site.owner}/{site.word}-large"])
    expect(_chip(page, "task", "translation")[0]).to_have_count(0)

    # A chosen chip, above the results, drops its filter and only that one.
    page.locator(".results .active-tags a.chip[data-facet=license]").click()
    page.wait_for_url(re.compile(r"storage=%3E10GB"))
    assert "license" not in page.url
    expect(counts).to_contain_text("1")
    expect(_chip(page, "license", "mit")[0]).to_have_count(0)
    expect(_chip(page, "license", "apache-2.0")[1]).to_have_text("1")
    # The shared URL opens the same listing for someone else, in the other language.
    page.goto(page.url)
    expect(page.locator(".results .repo-card")).to_have_count(1)
    if look.endswith("zh"):
        expect(page.locator("aside .chip-group[data-facet=storage] h3")).to_have_text("大小")
    _fits(page)
    assert problems == []
    context.close()


def test_empty_states_tell_a_newcomer_what_to_do_first(browser: Browser, live_hub_factory: LiveHubFactory) -> None:
    live = live_hub_factory()
    for look in ("desktop-dark-zh", "phone-light-en"):
        context, page, problems = _open(browser, look)
        zh = look.endswith("zh")
        for path in ("/", "/models", "/search?q=nothing-at-all"):
            page.goto(f"{live.url}{path}")
            steps = page.locator(".first-steps-list")
            expect(steps.locator("code.git-steps")).to_contain_text(f"git clone {live.url}/<your-name>/my-model")
            expect(steps.locator("code.hf-endpoint")).to_have_text(f"export HF_ENDPOINT={live.url}")
            expect(steps.locator("h3").nth(1)).to_have_text("用 git 推送" if zh else "Push with git")
            expect(steps.locator("a[href='/join']")).to_be_visible()
            _fits(page)
            if path == "/search?q=nothing-at-all":
                shot(page, f"search-no-results-{look}")
        assert problems == [], look
        context.close()

    owner, _token = live.user("new", password=PASSWORD)
    context, page, problems = sign_in(browser, live.url, owner, PASSWORD)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    page.goto(f"{live.url}/datasets")
    steps = page.locator("#first-steps")
    expect(steps.locator("a[href='/new']")).to_be_visible()
    expect(steps.locator("code.git-steps")).to_contain_text(f"git clone {live.url}/{owner}/my-model")
    copy = steps.locator("[data-step=git] button.copy")
    copy.click()
    expect(copy).to_have_attribute("data-copied", "true")
    assert page.evaluate("navigator.clipboard.readText()").startswith("git lfs install\n")
    # A filter that matches nothing says how to widen it rather than how to start.
    page.goto(f"{live.url}/models?license=mit")
    expect(page.locator("#no-results a", has_text="Clear filters")).to_have_attribute("href", "/models")
    expect(page.locator("#first-steps")).to_have_count(0)
    shot(page, "listing-no-results")
    assert problems == []
    context.close()
