"""Markdown as the Hugging Face Hub renders it, in a real browser (Debian's Chromium through Playwright)
against one live hub: a model card's math is MathML drawn by the browser, its task list is disabled
checkboxes, its quotes and alerts are styled, and its images by relative path load from the repository;
in light and dark, at 1280 px and on a 390 px phone, in English and Chinese, with no sideways scrolling
and no console error. Markdown files in the tree, dataset cards and discussion comments resolve their
relative paths the same way."""

from __future__ import annotations

import re
import secrets
import struct
import zlib
from dataclasses import dataclass

import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from csghub.services.identity import accounts, tokens
from tests.support.browser import shot, watch
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
WIDE_SUM = " + ".join(f"x_{{{i}}}^{{{i}}}" for i in range(60))
CARD = f"""---
license: mit
---
# Math card

The energy is $E = mc^2$, and it costs $5 and $10 to find out.

$$
\\sum_{{i=1}}^{{n}} i = \\frac{{n(n+1)}}{{2}}
$$

A wide one:

$$
{WIDE_SUM}
$$

Broken: $\\frac{{1}}{{$ stays as source.

- [x] train
- [ ] evaluate
  - [ ] on a phone

> A plain quote, muted.

> [!WARNING]
> Mind the gap.

![diagram](images/diagram.png)

See the [guide](docs/guide.md).
"""
GUIDE = "# Guide\n\n![diagram](../images/diagram.png)\n\nBack to the [card](../README.md).\n"


def _png(width: int, height: int) -> bytes:
    """A solid-colour PNG, written by hand (no imaging library needed for a test picture)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x4f\x46\xe5" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass(frozen=True)
class Site:
    model: str
    dataset: str
    space: str


@pytest.fixture(scope="module")
def site(live: LiveHub) -> Site:
    owner = f"math{secrets.token_hex(3)}"
    accounts.create_user(live.hub, owner, email=f"{owner}@example.com", password="markdown passphrase 7")
    token = tokens.create_token(live.hub, owner, scope="write")[0]
    api = HfApi(endpoint=live.url, token=token)
    image = _png(48, 24)
    model, dataset = f"{owner}/card", f"{owner}/corpus"
    api.create_repo(model)
    api.create_commit(
        model,
        operations=[
            CommitOperationAdd("README.md", CARD.encode()),
            CommitOperationAdd("docs/guide.md", GUIDE.encode()),
            CommitOperationAdd("images/diagram.png", image),
        ],
        commit_message="card with math",
    )
    api.create_repo(dataset, repo_type="dataset")
    api.create_commit(
        dataset,
        operations=[
            CommitOperationAdd("README.md", b"# Corpus\n\n![sample](./images/../images/diagram.png)\n"),
            CommitOperationAdd("images/diagram.png", image),
        ],
        commit_message="card",
        repo_type="dataset",
    )
    space = f"{owner}/show"
    api.create_repo(space, repo_type="space", space_sdk="static")
    api.create_commit(
        space,
        operations=[
            # No app declared: the page shows the card only.
            CommitOperationAdd("README.md", b"# Show\n\n![shot](docs/../images/diagram.png)\n"),
            CommitOperationAdd("images/diagram.png", image),
        ],
        commit_message="card",
        repo_type="space",
    )
    discussion = api.create_discussion(model, title="Picture", description="Look: ![d](images/diagram.png)")
    assert discussion.num == 1
    return Site(model=model, dataset=dataset, space=space)


def _contrast(color: str, background: str) -> float:
    """WCAG 2 contrast ratio of two opaque computed colours, `rgb(r, g, b)`."""

    def luminance(value: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", value)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(color), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _console_errors(page: Page) -> list[str]:
    """Every console error (a missing image logs one) plus what tests/support/browser.watch sees."""
    problems = watch(page)

    def seen(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", seen)
    return problems


_LOADED = "(img) => img.complete && img.naturalWidth > 0"
# Whether the element scrolls sideways inside itself (more to show than it shows).
_SCROLLS = "(e) => getComputedStyle(e).overflowX === 'auto' && e.scrollWidth > e.clientWidth"
# Whether an item's checkbox shares the first line of its text and comes before it.
_BOX_ON_ITS_LINE = """(item) => {
  const box = item.querySelector("input").getBoundingClientRect();
  const range = document.createRange();
  range.selectNodeContents(item.childNodes[item.childNodes.length - 1]);
  const text = range.getClientRects()[0];
  return box.width < 30 && box.right <= text.left && box.bottom > text.top && box.top < text.bottom;
}"""
# The room left and right of a display formula inside its box.
_GAPS = """(box) => {
  const outer = box.getBoundingClientRect(), inner = box.querySelector("math > mrow").getBoundingClientRect();
  return [inner.left - outer.left, outer.right - inner.right];
}"""


def _expect_images_load(page: Page, selector: str) -> None:
    images = page.locator(selector)
    expect(images.first).to_be_visible()
    for i in range(images.count()):
        image = images.nth(i)
        page.wait_for_function(f"({_LOADED})(document.querySelectorAll({selector!r})[{i}])", timeout=10_000)
        assert image.evaluate(_LOADED), image.get_attribute("src")


# Both themes at both sizes, and Chinese once (the card's content is the author's; the page around it is
# translated, and must still fit).
LOOKS = [(scheme, size, "en") for scheme in ("light", "dark") for size in SIZES] + [("dark", "phone", "zh")]


@pytest.mark.parametrize(("scheme", "size", "lang"), LOOKS)
def test_model_card_renders_math_tasks_quotes_and_images(
    browser: Browser, live: LiveHub, site: Site, scheme: str, size: str, lang: str
) -> None:
    viewport = SIZES[size]
    context = browser.new_context(color_scheme=scheme, viewport=viewport, is_mobile=size == "phone")
    page = context.new_page()
    problems = _console_errors(page)
    page.goto(f"{live.url}/lang/{lang}?next=/{site.model}")
    card = page.locator("article.card")
    expect(card.locator("h1")).to_have_text("Math card")

    # Math is MathML drawn by the browser; prices and bad LaTeX stay text.
    expect(card.locator("math")).to_have_count(3)
    expect(card.locator('math[display="block"]')).to_have_count(2)
    assert card.locator("math msup").first.is_visible()
    formula = card.locator(".math-display").first.bounding_box()
    assert formula is not None and formula["height"] > 20, "a display formula takes room of its own"
    expect(card).to_contain_text("costs $5 and $10 to find out")
    expect(card.locator("code.math-error")).to_have_text("\\frac{1}{")

    # Task items are checkboxes a reader cannot tick.
    boxes = card.locator("li.task-list-item input[type=checkbox]")
    expect(boxes).to_have_count(3)
    for i in range(3):
        expect(boxes.nth(i)).to_be_disabled()
    expect(boxes.nth(0)).to_be_checked()
    expect(boxes.nth(1)).not_to_be_checked()
    # ... each at the start of its item's first line, not a field of its own.
    assert card.locator("li.task-list-item").first.evaluate(_BOX_ON_ITS_LINE), "the box sits on its line"

    # A quote has a rule on its left and muted text; an alert has its own colour and title.
    quote = card.locator("blockquote")
    assert float(quote.evaluate("(e) => parseFloat(getComputedStyle(e).borderLeftWidth)")) >= 3
    muted = page.evaluate("getComputedStyle(document.querySelector('.tabs a:not(.active)')).color")
    assert quote.evaluate("(e) => getComputedStyle(e).color") == muted
    alert = card.locator(".markdown-alert-warning")
    expect(alert.locator(".markdown-alert-title")).to_have_text("Warning")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    for text in (quote.locator("p"), alert.locator(".markdown-alert-title")):
        colour = text.evaluate("(e) => getComputedStyle(e).color")
        assert _contrast(colour, background) >= 4.5, f"{colour} on {background} in the {scheme} theme"
    assert alert.evaluate("(e) => getComputedStyle(e).borderLeftColor") != quote.evaluate(
        "(e) => getComputedStyle(e).borderLeftColor"
    )

    # The relative image comes from the repository at the revision shown, and loads.
    image = card.locator("img[alt=diagram]")
    assert image.get_attribute("src") == f"/{site.model}/resolve/main/images/diagram.png"
    _expect_images_load(page, "article.card img[alt=diagram]")
    expect(card.locator("a", has_text="guide")).to_have_attribute("href", f"/{site.model}/blob/main/docs/guide.md")

    # Nothing pushes the page sideways; the wide formula scrolls inside its own box on a phone.
    assert page.evaluate("document.scrollingElement.scrollWidth") == viewport["width"]
    assert card.locator(".math-display").nth(1).evaluate(_SCROLLS), "the wide formula scrolls in its box"
    # A display formula that fits is centred in its line.
    gaps = card.locator(".math-display").first.evaluate(_GAPS)
    assert gaps[0] > 20 and abs(gaps[0] - gaps[1]) <= 2, gaps
    if lang == "zh":
        expect(page.locator(".tabs")).to_contain_text("文件")
    assert problems == []
    if lang == "en":
        shot(page, f"markdown-card-{size}-{scheme}")
    context.close()


def test_markdown_file_in_the_tree_resolves_against_its_folder(browser: Browser, live: LiveHub, site: Site) -> None:
    page = browser.new_page(viewport=SIZES["phone"])
    problems = _console_errors(page)
    page.goto(f"{live.url}/{site.model}/blob/main/docs/guide.md")
    body = page.locator(".markdown")
    expect(body.locator("h1")).to_have_text("Guide")
    assert body.locator("img").get_attribute("src") == f"/{site.model}/resolve/main/images/diagram.png"
    _expect_images_load(page, ".markdown img")
    body.locator("a", has_text="card").click()
    page.wait_for_url(f"{live.url}/{site.model}/blob/main/README.md")
    expect(page.locator(".markdown math").first).to_be_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth") == SIZES["phone"]["width"]
    assert problems == []
    page.close()


def test_dataset_and_space_cards_and_discussion_images_load(browser: Browser, live: LiveHub, site: Site) -> None:
    page = browser.new_page(viewport=SIZES["desktop"])
    problems = _console_errors(page)
    for kind, repo in (("datasets", site.dataset), ("spaces", site.space)):
        page.goto(f"{live.url}/{kind}/{repo}")
        image = page.locator("article.card img")
        assert image.get_attribute("src") == f"/{kind}/{repo}/resolve/main/images/diagram.png"
        _expect_images_load(page, "article.card img")
    # A comment's relative path means the repository's default branch.
    page.goto(f"{live.url}/{site.model}/discussions/1")
    comment = page.locator(".comment-body img")
    assert comment.get_attribute("src") == f"/{site.model}/resolve/main/images/diagram.png"
    _expect_images_load(page, ".comment-body img")
    assert problems == []
    page.close()
