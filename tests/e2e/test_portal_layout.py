"""The portal's layout in a real browser (Debian's Chromium through Playwright) against one live hub:
fenced code stays readable in the light and dark themes, wide code and tables scroll inside themselves
on a 390 px phone (test_portal_phone_walk.py walks every page there), the phone header is one compact
row with a menu button, the header search finds every repository type, name fields validate in the
browser, and a page past the end of a listing leads back to its last page."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from huggingface_hub import HfApi
from playwright.sync_api import Browser, BrowserContext, Page, expect

from csghub.services.identity import accounts, orgs, tokens
from tests.support.browser import shot, sign_in
from tests.support.clients import create_repo
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "layout passphrase 5"
PHONE = {"width": 390, "height": 844}
WIDE = "w" * 320
CODE = f"""```python
@cache
def greet(name: str) -> str:
    # say hello, then something very long: {WIDE}
    return f"hello {{name}}" + str(42)
```
"""
README = f"""# Wide things

{CODE}
| {" | ".join(f"column number {i}" for i in range(14))} |
|{"---|" * 14}
| {" | ".join(f"value{i}" for i in range(14))} |
"""
WIDE_PY = f"print('{WIDE}')\n"


@dataclass(frozen=True)
class Site:
    admin: str
    token: str
    org: str
    repo: str  # admin/wide, a model whose card and discussion hold wide code
    word: str  # in the names of one repository of each type
    commit: str


@pytest.fixture(scope="module")
def site(live: LiveHub) -> Site:
    admin = f"root{secrets.token_hex(3)}"
    accounts.create_user(live.hub, admin, email=f"{admin}@example.com", password=PASSWORD, is_admin=True)
    token = tokens.create_token(live.hub, admin, scope="write")[0]
    org = f"lab{secrets.token_hex(3)}"
    orgs.create_org(live.hub, org, owner=admin, full_name="A laboratory with a rather long name indeed")
    repo = f"{admin}/wide"
    create_repo(live.url, token, repo)
    api = HfApi(endpoint=live.url, token=token)
    api.upload_file(path_or_fileobj=WIDE_PY.encode(), path_in_repo="wide.py", repo_id=repo)
    commit = api.upload_file(path_or_fileobj=README.encode(), path_in_repo="README.md", repo_id=repo).oid
    discussion = api.create_discussion(repo, title="Code in a comment", description=f"Try this:\n\n{CODE}")
    api.comment_discussion(repo, discussion.num, f"Or this:\n\n{CODE}")
    word = f"zebra{secrets.token_hex(3)}"
    for kind in ("model", "dataset", "space", "code"):
        create_repo(live.url, token, f"{org}/{word}-{kind}", repo_type=kind)
    return Site(admin=admin, token=token, org=org, repo=repo, word=word, commit=commit)


def _contrast(color: str, background: str) -> float:
    """WCAG 2 contrast ratio of two opaque computed colours, `rgb(r, g, b)`."""

    def luminance(value: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"[\d.]+", value)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(color), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# Every piece of text in a block with its colour and the first opaque background behind it.
_TEXT_COLOURS = """(block) => {
  const behind = (node) => {
    for (; node; node = node.parentElement) {
      const colour = getComputedStyle(node).backgroundColor;
      if (!/^rgba\\(.*, 0\\)$/.test(colour) && colour !== "transparent") return colour;
    }
    return "rgb(255, 255, 255)";
  };
  const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    if (!text.textContent.trim()) continue;
    const owner = text.parentElement;
    found.push([text.textContent.trim().slice(0, 24), getComputedStyle(owner).color, behind(owner)]);
  }
  return found;
}"""


# Whether the nearest ancestor (or the element) that scrolls sideways has more to show than it shows.
_SCROLLS_INSIDE = """(node) => {
  for (; node; node = node.parentElement) {
    if (getComputedStyle(node).overflowX === "auto") return node.scrollWidth > node.clientWidth;
  }
  return false;
}"""


def _unreadable(page: Page, selector: str) -> list[str]:
    pieces = page.locator(selector).first.evaluate(_TEXT_COLOURS)
    assert len(pieces) > 5, f"{selector} holds highlighted code"
    return [f"{text!r}: {fg} on {bg}" for text, fg, bg in pieces if _contrast(fg, bg) < 4.5]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_fenced_code_is_readable_in_both_themes(browser: Browser, live: LiveHub, site: Site, scheme: str) -> None:
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    other = "light" if scheme == "dark" else "dark"
    for path, block in ((f"/{site.repo}", "article.card pre"), (f"/{site.repo}/discussions/1", ".comment-body pre")):
        page.goto(f"{live.url}{path}")
        expect(page.locator(block).first).to_contain_text("hello")
        # The system's choice first, then the header's toggle to the other theme.
        assert page.evaluate("document.documentElement.dataset.theme") is None
        assert _unreadable(page, block) == [], f"{path} in the {scheme} system theme"
        page.click("[data-theme-toggle]")
        assert page.evaluate("document.documentElement.dataset.theme") == other
        assert _unreadable(page, block) == [], f"{path} switched to {other}"
        page.evaluate("localStorage.removeItem('theme')")
    page.goto(f"{live.url}/{site.repo}")
    shot(page, f"code-{scheme}")
    context.close()


@pytest.fixture(scope="module")
def phone(browser: Browser, live: LiveHub, site: Site) -> Iterator[Page]:
    """The site administrator on a phone, signed in through the portal's own form."""
    context: BrowserContext = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", site.admin)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live.url}/")
    yield page
    context.close()


# The pages that hold something wider than a phone, with text that proves each is the page meant (not an
# error page of the right width). Every other page's fit is walked by test_portal_phone_walk.py.
PHONE_PAGES = {
    "repo": ("/{repo}", "Wide things"),
    "blob": ("/{repo}/blob/main/wide.py", "print"),
    "commit": ("/{repo}/commit/{commit}", "column number 13"),
    "discussion": ("/{repo}/discussions/1", "Or this"),
    "audit": ("/admin/audit", "user.create"),
}


# What is wider than a phone on those pages.
WIDE_BLOCKS = {
    "repo": ("article.card pre", "article.card table"),
    "blob": ("pre.hl",),
    "commit": ("table.diff",),
    "discussion": (".comment-body pre",),
    "audit": ("table.audit",),
}


@pytest.mark.parametrize("name", list(PHONE_PAGES))
def test_wide_code_and_tables_scroll_inside_themselves_on_a_phone(
    phone: Page, live: LiveHub, site: Site, name: str
) -> None:
    path, proof = (s.format(**vars(site)) for s in PHONE_PAGES[name])
    response = phone.goto(f"{live.url}{path}")
    assert response is not None and response.status == 200, phone.inner_text("main")
    assert proof in phone.inner_text("main")
    width = phone.evaluate("document.scrollingElement.scrollWidth")
    assert width == PHONE["width"], f"{path} is {width}px wide on a {PHONE['width']}px phone"
    assert phone.evaluate("window.innerWidth") == PHONE["width"], "the phone did not zoom out to fit"
    for block in WIDE_BLOCKS[name]:
        # Wide code and tables scroll inside themselves instead of stretching the page.
        inside = phone.locator(block).first.evaluate("(e) => e.scrollWidth")
        assert inside > PHONE["width"] and phone.locator(block).first.evaluate(_SCROLLS_INSIDE), block
    if name == "repo":
        shot(phone, "model-page-phone")


# How many lines an inline entry's label takes.
_LINES = "(e) => Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight))"


def test_the_phone_header_is_one_row_with_a_menu(phone: Page, live: LiveHub, site: Site) -> None:
    phone.goto(f"{live.url}/")
    header = phone.locator("header.top")
    box = header.bounding_box()
    assert box is not None and box["height"] <= 60, f"the header is {box} on a phone"
    toggle = phone.locator("header button[aria-controls]")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(header.locator("a", has_text="Datasets")).to_be_hidden()
    expect(header.locator("input[name=search]")).to_be_visible()

    # The keyboard opens it (a real button), and every entry stays on one line.
    toggle.focus()
    phone.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    menu = phone.locator("#" + (toggle.get_attribute("aria-controls") or ""))
    for label in ("Models", "Datasets", "Spaces", "Codes", "Settings", "Admin", "Sign out", site.admin):
        entry = menu.locator("a, button", has_text=label).first
        expect(entry).to_be_visible()
        lines = entry.evaluate(_LINES)
        assert lines <= 1, f"{label!r} is split over {lines} lines"
    assert phone.evaluate("document.scrollingElement.scrollWidth") == PHONE["width"]
    shot(phone, "phone-menu")
    phone.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(menu.locator("a", has_text="Datasets")).to_be_hidden()
    assert phone.evaluate("document.activeElement.getAttribute('aria-controls')") == menu.get_attribute("id")
    phone.keyboard.press("Space")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    menu.locator("a", has_text="Datasets").click()
    phone.wait_for_url(f"{live.url}/datasets")
    expect(phone.locator("header button[aria-controls]")).to_have_attribute("aria-expanded", "false")

    # Chinese labels stay on one line too.
    phone.goto(f"{live.url}/lang/zh?next=/")
    zh_box = header.bounding_box()
    assert zh_box is not None and zh_box["height"] <= 60, zh_box
    phone.click("header button[aria-controls]")
    for label in ("模型", "数据集", "应用空间", "代码", "设置", "退出"):
        entry = menu.locator("a, button", has_text=label).first
        expect(entry).to_be_visible()
        assert entry.evaluate(_LINES) <= 1, f"{label!r} is split over lines"
    phone.goto(f"{live.url}/lang/en?next=/")


def test_the_wide_header_shows_its_links_without_a_menu(browser: Browser, live: LiveHub, site: Site) -> None:
    context, page, problems = sign_in(browser, live.url, site.admin, PASSWORD)
    expect(page.locator("header button[aria-controls]")).to_be_hidden()
    for label in ("Models", "Datasets", "Spaces", "Codes", "Settings", "Admin"):
        expect(page.locator("header a", has_text=label).first).to_be_visible()
    box = page.locator("header.top").bounding_box()
    assert box is not None and box["height"] <= 60
    assert problems == []
    context.close()


def test_header_search_finds_every_type(browser: Browser, live: LiveHub, site: Site) -> None:
    stranger, token = live.user("stranger")
    create_repo(live.url, token, f"{stranger}/{site.word}-hidden", repo_type="dataset", private=True)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{live.url}/")
    page.fill("header input[name=search]", site.word)
    page.press("header input[name=search]", "Enter")
    page.wait_for_url(re.compile(r"/search\?"))
    expect(page.locator("header input[name=search]")).to_have_value(site.word)
    for kind in ("model", "dataset", "space", "code"):
        section = page.locator(f"section[data-type={kind}s]")
        expect(section.locator(".repo-card .name")).to_have_text([f"{site.org}/{site.word}-{kind}"])
        expect(section.locator("h2")).to_contain_text("1")
    assert f"{site.word}-hidden" not in page.inner_text("main"), "a private repository stays hidden"
    shot(page, "search")
    page.click("section[data-type=datasets] a.all")
    page.wait_for_url(f"{live.url}/datasets?search={site.word}")
    expect(page.locator(".repo-card .name")).to_have_text([f"{site.org}/{site.word}-dataset"])

    page.goto(f"{live.url}/search?search=nothing-{secrets.token_hex(4)}")
    expect(page.locator("main .empty").first).to_be_visible()
    assert page.locator(".repo-card").count() == 0
    context.close()


@pytest.mark.parametrize("path", ["/new", "/organizations/new"])
def test_name_fields_validate_in_the_browser(browser: Browser, live: LiveHub, site: Site, path: str) -> None:
    context, page, problems = sign_in(browser, live.url, site.admin, PASSWORD)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type in ("error", "warning") else None)
    page.goto(f"{live.url}{path}")
    field = page.locator("main input[name=name]")
    expect(field).to_have_attribute("pattern", re.compile(".+"))
    for value, valid in (("good-name.v2", True), ("bad name", False), ("a--b", False), ("x.git", False), ("-x", False)):
        field.fill(value)
        state = field.evaluate("(e) => [e.validity.patternMismatch, e.form.checkValidity()]")
        assert state == [not valid, valid], f"{value!r}: {state}"
    # The browser refuses to send the form with a bad name.
    field.fill("bad name")
    page.click("main form button[type=submit]")
    assert page.url == f"{live.url}{path}"
    assert page.evaluate("document.activeElement.name") == "name"
    # Chromium reports a pattern it cannot compile (and then validates nothing) when it first checks one.
    assert errors == [], "the pattern compiles under the browser's v flag"
    assert problems == []
    context.close()


def test_paging_past_the_end_leads_to_the_last_page(browser: Browser, live: LiveHub, site: Site) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{live.url}/models?search={site.word}&page=99")
    page.wait_for_url(f"{live.url}/models?search={site.word}")
    expect(page.locator(".repo-card .name")).to_have_text([f"{site.org}/{site.word}-model"])
    expect(page.locator(".results nav.pages")).to_have_text("1 / 1")
    assert page.locator(".results a[href*='page=99']").count() == 0  # (random names may hold "99")
    page.goto(f"{live.url}/{site.org}?type=datasets&page=99")
    page.wait_for_url(f"{live.url}/{site.org}?type=datasets")
    expect(page.locator(".repo-card .name")).to_have_text([f"{site.org}/{site.word}-dataset"])
    page.goto(f"{live.url}/{site.repo}/discussions?page=99")
    page.wait_for_url(f"{live.url}/{site.repo}/discussions?status=open&type=")
    expect(page.locator(".discussions li")).to_contain_text(["Code in a comment"])
    context.close()
