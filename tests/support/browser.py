"""Chromium from Debian's package, driven by Playwright: never a browser Playwright downloads.

The flags keep it from reaching for the network (updates, sync, field trials) on a machine that has
none, and let it run as root in a container.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-quic",
    "--no-first-run",
    "--metrics-recording-only",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shot(page: Page, name: str) -> None:
    """A full-page screenshot for reviewers, in docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def watch(page: Page) -> list[str]:
    """Script errors and Content-Security-Policy violations the page meets: a clean page has none."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    csp = "Content Security Policy"
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" and csp in msg.text else None)
    return problems


def sign_in(
    browser: Browser, url: str, name: str, password: str, *, height: int = 860
) -> tuple[BrowserContext, Page, list[str]]:
    """A browser of its own for `name`, signed in through the portal's form, with what `watch` sees."""
    context = browser.new_context(viewport={"width": 1280, "height": height})
    page = context.new_page()
    problems = watch(page)
    page.goto(f"{url}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")
    expect(page.locator("a.me")).to_have_text(name)
    return context, page, problems
