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
from huggingface_hub import CommitOperationAdd, HfApi
from playwright.sync_api import Browser, expect

from tests.support.browser import shot, sign_in
from tests.support.clients import create_repo
from tests.support.live import LiveHub
from tests.support.tiny_models import space_environments

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "spaces passphrase 5"
BUILD_MS = (
    120_000  # a bound: pip looks the missing package up and gives up in seconds (the SDK's environment is shared)
)
HELLO = "<!doctype html><title>Hello</title><h1 id=hello>Hello from a static space</h1>"


def _readme(sdk: str, **fields: str | list[str]) -> str:
    lines = ["---"] + ([f"sdk: {sdk}"] if sdk else [])
    for key, value in fields.items():
        lines.append(f"{key}: {value!r}" if isinstance(value, str) else f"{key}: [{', '.join(value)}]")
    return "\n".join([*lines, "---", "", "# A space", ""])


def _space(live: LiveHub, token: str, repo: str, sdk: str, files: dict[str, str], *, private: bool = False) -> None:
    """A space repository made as huggingface_hub makes one (with an SDK), then its README (which declares
    the app, or none) and its app's files in one commit."""
    api = HfApi(endpoint=live.url, token=token)
    api.create_repo(repo, repo_type="space", space_sdk=sdk, private=private)
    adds = [CommitOperationAdd(path, text.encode()) for path, text in files.items()]
    api.create_commit(repo, adds, commit_message="The app", repo_type="space")


def test_spaces_listing_filters_by_sdk_and_links_only_what_the_viewer_may_see(browser: Browser, live: LiveHub) -> None:
    owner, token = live.user("sp", password=PASSWORD)
    create_repo(live.url, token, f"{owner}/open-model")
    create_repo(live.url, token, f"{owner}/secret-model", private=True)
    create_repo(live.url, token, f"{owner}/capitals", repo_type="dataset")
    uses = {
        "models": [f"{owner}/open-model", f"{owner}/secret-model", "nobody/missing-model"],
        "datasets": [f"{owner}/capitals"],
    }
    readme = _readme("static", title="Hello page", emoji="👋", colorFrom="indigo", colorTo="pink", **uses)
    _space(live, token, f"{owner}/hello-static", "static", {"README.md": readme, "index.html": HELLO})
    _space(live, token, f"{owner}/in-docker", "docker", {"README.md": _readme("docker", title="Docker app")})
    _space(live, token, f"{owner}/just-files", "docker", {"README.md": "# Only files here\n"})

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
    expect(static.locator(".space-state")).to_have_text("Running")  # a static space runs no process
    # Its owner may read the private model: linked; the missing one is never linked.
    expect(static.locator("a.uses-model")).to_have_text([f"{owner}/open-model", f"{owner}/secret-model"])
    expect(static.locator("a.uses-dataset")).to_have_attribute("href", f"/datasets/{owner}/capitals")
    expect(cards.filter(has_text="Docker app").locator(".sdk")).to_have_text("No app")
    expect(cards.filter(has_text="Docker app").locator(".space-state")).to_have_text("No app")

    page.fill(".filter-form input[name=sdk]", "static")
    page.click(".filter-form button[type=submit]")
    page.wait_for_url(re.compile(r"[?&]sdk=static(&|$)"))
    expect(page.locator(".results .repo-card .name")).to_have_text([f"{owner}/hello-static"])
    shot(page, "spaces-listing")

    stranger, seen, _ = sign_in(browser, live.url, live.user("st", password=PASSWORD)[0], PASSWORD)
    seen.goto(f"{live.url}/spaces?author={owner}&sdk=static")
    expect(seen.locator("a.uses-model")).to_have_text([f"{owner}/open-model"])
    assert "secret-model" not in seen.content()
    stranger.add_cookies([{"name": "lang", "value": "zh", "url": live.url}])
    seen.goto(f"{live.url}/spaces?author={owner}")
    expect(seen.locator(".repo-card", has_text="Hello page").locator(".space-state")).to_have_text("运行中")
    expect(seen.locator(".repo-card", has_text="Docker app").locator(".sdk")).to_have_text("无应用")
    expect(seen.locator(".filter-form label", has_text="SDK")).to_be_visible()
    assert problems == []
    stranger.close()
    context.close()


def test_a_running_static_space_shows_its_app_in_a_sandboxed_frame(browser: Browser, live: LiveHub) -> None:
    owner, token = live.user("st", password=PASSWORD)
    readme = _readme("static", title="Static hello", models=[f"{owner}/absent"])
    _space(live, token, f"{owner}/hello", "static", {"README.md": readme, "index.html": HELLO})
    context, page, problems = sign_in(browser, live.url, owner, PASSWORD)
    page.goto(f"{live.url}/spaces/{owner}/hello")
    expect(page.locator("nav.tabs a#app-tab")).to_have_class("active")
    frame = page.locator("iframe#space-app")
    expect(frame).to_have_attribute("src", f"/apps/{owner}/hello/")
    sandbox = frame.get_attribute("sandbox") or ""
    assert "allow-scripts" in sandbox and "allow-same-origin" not in sandbox
    expect(page.frame_locator("iframe#space-app").locator("#hello")).to_have_text("Hello from a static space")
    assert page.locator("#space-status").count() == 0, "a running space shows no state banner"
    assert page.locator("#space-uses").count() == 0, "a declared model that does not exist is not linked"
    shot(page, "spaces-static")
    assert problems == []
    context.close()


def test_a_private_space_opens_for_its_owner_and_is_not_found_for_others(browser: Browser, live: LiveHub) -> None:
    owner, token = live.user("pv", password=PASSWORD)
    _space(live, token, f"{owner}/inner", "static", {"README.md": _readme("static"), "index.html": HELLO}, private=True)
    context, page, problems = sign_in(browser, live.url, owner, PASSWORD)
    page.goto(f"{live.url}/spaces/{owner}/inner")
    # The frame's document has an opaque origin and no cookie: the hub let it in with a capability.
    expect(page.frame_locator("iframe#space-app").locator("#hello")).to_have_text("Hello from a static space")
    _, stranger_token = live.user("no")
    for path in ("", "/logs", "/settings", "/tree/main"):
        for headers in ({}, {"authorization": f"Bearer {stranger_token}"}):
            hidden = httpx.get(f"{live.url}/spaces/{owner}/inner{path}", headers=headers)
            if hidden.status_code == 303:  # settings ask for a sign-in first, whatever the repository
                assert hidden.headers["location"].startswith("/login?next="), path
                continue
            assert hidden.status_code == 404 and "Page not found" in hidden.text, path
            assert "Hello" not in hidden.text and "Use this space" not in hidden.text, path
    listed = httpx.get(
        f"{live.url}/spaces", params={"author": owner}, headers={"authorization": f"Bearer {stranger_token}"}
    )
    assert f"{owner}/inner" not in listed.text
    assert problems == []
    context.close()


SECRET_VALUE = "never-show-me-8d1c5"


def test_settings_keep_a_secret_write_only_and_show_variables(browser: Browser, live: LiveHub) -> None:
    owner, token = live.user("se", password=PASSWORD)
    _space(live, token, f"{owner}/keeper", "static", {"README.md": _readme("static"), "index.html": HELLO})
    context, page, problems = sign_in(browser, live.url, owner, PASSWORD)
    page.on("dialog", lambda dialog: dialog.accept())
    settings = f"{live.url}/spaces/{owner}/keeper/settings"
    page.goto(settings)
    expect(page.locator("#space h2 .space-state")).to_have_text("Running")
    page.fill("#space-secret input[name=name]", "API_KEY")
    page.fill("#space-secret input[name=value]", SECRET_VALUE)
    page.click("#space-secret button[type=submit]")
    expect(page.locator("p.notice")).to_have_text("Secret saved")
    expect(page.locator("table.space-secrets tr[data-name=API_KEY]")).to_contain_text("API_KEY")
    page.fill("#space-variable input[name=name]", "MODEL_ID")
    page.fill("#space-variable input[name=value]", "acme/tiny-chat")
    page.click("#space-variable button[type=submit]")
    expect(page.locator("p.notice")).to_have_text("Variable saved")
    expect(page.locator("table.space-variables tr[data-name=MODEL_ID] .variable-value")).to_have_text("acme/tiny-chat")
    assert SECRET_VALUE not in page.content()
    with httpx.Client(base_url=live.url, headers={"authorization": f"Bearer {token}"}) as client:
        for path in ("/settings", "", "/logs"):
            assert SECRET_VALUE not in client.get(f"/spaces/{owner}/keeper{path}").text
        listed = client.get(f"/api/v1/spaces/{owner}/keeper/secrets")
        assert listed.status_code == 200 and "API_KEY" in listed.text and SECRET_VALUE not in listed.text
    # A bad name is refused with the reason, on the same page; nothing is saved.
    page.fill("#space-variable input[name=name]", "HF_TOKEN")
    page.fill("#space-variable input[name=value]", "x")
    page.click("#space-variable button[type=submit]")
    expect(page.locator("p.error")).to_contain_text("HF_")
    expect(page.locator("table.space-variables tr")).to_have_count(2)  # the header and MODEL_ID
    page.locator("table.space-secrets tr[data-name=API_KEY] button").click()
    expect(page.locator("p.notice")).to_have_text("Secret deleted")
    expect(page.locator("#space .empty", has_text="No secrets yet.")).to_be_visible()
    # Someone who may read the space sees no settings of it.
    _, reader_token = live.user("rd")
    seen = httpx.get(settings.replace("#space", ""), headers={"authorization": f"Bearer {reader_token}"})
    assert seen.status_code in (403, 404) and "MODEL_ID" not in seen.text
    assert problems == []
    context.close()


GRADIO_APP = "import gradio as gr\n\ngr.Interface(lambda s: s[::-1], 'text', 'text').launch()\n"


def test_a_build_that_pip_refuses_shows_pips_error_and_the_sleep_time_changes(browser: Browser, live: LiveHub) -> None:
    space_environments()  # built in the background by scripts/test: waited for here, not in the page's bound
    owner, token = live.user("bf", password=PASSWORD)
    missing = "csghub-portal-no-such-package"
    files = {"README.md": _readme("gradio"), "app.py": GRADIO_APP, "requirements.txt": f"{missing}==1.0\n"}
    _space(live, token, f"{owner}/broken", "gradio", files)
    context, page, problems = sign_in(browser, live.url, owner, PASSWORD)
    page.goto(f"{live.url}/spaces/{owner}/broken")
    # Building: the page follows the space by itself until the build has failed (bounded, not a sleep).
    expect(page.locator("#space-status[data-state=build-failed]")).to_be_visible(timeout=BUILD_MS)
    expect(page.locator("#space-status .space-state")).to_have_text("Build error")
    expect(page.locator("#space-error")).to_contain_text(f"No matching distribution found for {missing}")
    assert page.locator("iframe#space-app").count() == 0
    shot(page, "spaces-build-failed")
    page.click("nav.tabs a#logs-tab")
    expect(page.locator("#space-build-log pre.space-log")).to_contain_text(missing, timeout=30_000)

    page.goto(f"{live.url}/spaces/{owner}/broken/settings")
    expect(page.locator("#space-sleep input[name=sleep_minutes]")).to_have_value("2880")  # the hub's 48 h
    page.fill("#space-sleep input[name=sleep_minutes]", "15")
    page.click("#space-sleep button[type=submit]")
    expect(page.locator("p.notice")).to_have_text("Sleep time saved")
    expect(page.locator("#space-sleep input[name=sleep_minutes]")).to_have_value("15")
    shot(page, "spaces-settings")  # a space with a process: every part of the section
    runtime = HfApi(endpoint=live.url, token=token).get_space_runtime(f"{owner}/broken")
    assert (runtime.stage, runtime.sleep_time) == ("BUILD_ERROR", 900)
    assert problems == []
    context.close()
