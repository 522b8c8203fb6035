"""Deploying a model from the portal in a real browser (Debian's Chromium through Playwright) against a
live hub with the local runner: the owner opens the tiny chat model's page, clicks Deploy → Dedicated
endpoint, fills the form and lands on the endpoint's Summary, which turns to Running by itself and shows
the URL and the replica's log; the page's curl, openai and huggingface_hub snippets really answer; the
resource console and the endpoint list show it; another user gets the 404 page; bad input is refused
next to its field and creates nothing; the form speaks Chinese; stop and delete end it.

One hub and one deployed endpoint for the module; its tests run in order (the last one deletes it).
Screenshots of the form and the Summary land in docs/screenshots/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from huggingface_hub import HfApi
from playwright.sync_api import Browser, BrowserContext, Page, expect

from csghub.services.compute import endpoints
from csghub.services.identity import tokens
from tests.conftest import start_hub
from tests.support.browser import shot, sign_in
from tests.support.live import LiveHub, kill_replicas_left_in
from tests.support.tiny_models import tiny_chat_model

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

# Bounds, not waits: a loaded 2-core CI machine starts `transformers serve` in 5-10 s.
DEPLOY_MS = 240_000
PASSWORD = "endpoint passphrase 7"


@dataclass
class Portal:
    live: LiveHub
    owner: str
    token: str
    other: str
    context: BrowserContext
    page: Page
    problems: list[str]

    @property
    def summary(self) -> str:
        return f"{self.live.url}/endpoints/{self.owner}/chat"

    def count(self) -> int:
        actor = tokens.actor_from_token(self.live.hub, self.token)[0]
        return len(endpoints.list_endpoints(self.live.hub, actor, owner=self.owner))


@pytest.fixture(scope="module")
def portal(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    model = tiny_chat_model()  # also builds the transformers environment, once per CI run
    live = start_hub(tmp_path_factory.mktemp("portal-endpoints") / "data", {"PIP_NO_INDEX": "1"})
    try:
        owner, token = live.user("dep", password=PASSWORD)
        other, _ = live.user("oth", password=PASSWORD)
        hf = HfApi(endpoint=live.url, token=token)
        hf.create_repo(f"{owner}/tiny-chat", private=True)
        hf.upload_folder(repo_id=f"{owner}/tiny-chat", folder_path=model, commit_message="the tiny model")
        hf.create_repo(f"{owner}/notes")  # a model repository without a model in it
        hf.upload_file(path_or_fileobj=b"# notes\n", path_in_repo="README.md", repo_id=f"{owner}/notes")
        context, page, problems = sign_in(browser, live.url, owner, PASSWORD, height=900)
        page.on("dialog", lambda dialog: dialog.accept())  # the delete button asks first
        yield Portal(live, owner, token, other, context, page, problems)
        context.close()
    finally:
        live.stop()
        kill_replicas_left_in(live.data_dir)


def _snippet(page: Page, index: int) -> str:
    return page.locator(f"#endpoint-code [data-snippet='{index}'] code").inner_text()


def test_deploy_from_the_model_page_reaches_running_with_its_url_and_log(portal: Portal) -> None:
    page = portal.page
    page.goto(f"{portal.live.url}/{portal.owner}/notes")
    expect(page.locator(".repo-head h1")).to_contain_text("notes")
    assert page.locator(".deploy-menu").count() == 0, "no framework fits a repository without a model"
    page.goto(f"{portal.live.url}/{portal.owner}/tiny-chat")
    page.click(".deploy-menu summary")
    shot(page, "model-deploy-menu")
    page.click(".deploy-menu >> text=Dedicated endpoint")
    page.wait_for_url(f"**/endpoints/new?model={portal.owner}/tiny-chat")
    form = page.locator("#endpoint-form")
    expect(form.locator("input[name=name]")).to_have_value("tiny-chat")
    expect(form.locator("select[name=framework_id] option")).to_have_count(1)
    expect(form.locator("select[name=framework_id] option")).to_contain_text("transformers")
    expect(form.locator("select[name=tier_id] option").first).to_contain_text("CPU")
    expect(form.locator("select[name=revision] option")).to_have_text(["main"])
    form.locator("input[name=name]").fill("chat")
    shot(page, "endpoint-new")
    form.locator("button[type=submit]").click()

    page.wait_for_url(portal.summary)
    expect(page.locator("p.notice")).to_have_text("Endpoint created: it starts in a moment")
    # The page follows the endpoint by itself: its state, then the replica's log.
    expect(page.locator("#endpoint-state .state")).to_have_text("Running", timeout=DEPLOY_MS)
    expect(page.locator("#endpoint-url")).to_have_text(f"{portal.live.url}/endpoints/{portal.owner}/chat/v1")
    expect(page.locator("#endpoint-replicas")).to_contain_text("1 / 1")
    expect(page.locator("#endpoint-events")).to_contain_text("running")
    expect(page.locator("pre.endpoint-log")).to_contain_text("Uvicorn running", timeout=30_000)
    expect(page.locator(".endpoint-head .tabs a", has_text="Playground")).to_have_attribute(
        "href", f"/endpoints/{portal.owner}/chat/playground"
    )
    shot(page, "endpoint-summary")
    assert portal.problems == [], "the pages' scripts run under the Content-Security-Policy"


def test_the_summary_snippets_answer_as_written(portal: Portal) -> None:
    page = portal.page
    page.goto(portal.summary)
    env = {**os.environ, "HF_TOKEN": portal.token, "HF_HUB_DISABLE_TELEMETRY": "1"}
    curl = _snippet(page, 0)
    assert curl.startswith(f"curl {portal.live.url}/endpoints/{portal.owner}/chat/v1/chat/completions")
    ran = subprocess.run(
        ["bash", "-c", curl + " --silent --show-error --fail"], env=env, capture_output=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    answer = json.loads(ran.stdout)
    assert answer["model"] == f"{portal.owner}/chat" and answer["choices"][0]["message"]["content"]
    for index in (1, 2):  # the openai SDK, then huggingface_hub's InferenceClient
        code = _snippet(page, index)
        ran = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0 and ran.stdout.strip(), ran.stderr
    # Without the token the private endpoint does not answer.
    refused = subprocess.run(["bash", "-c", curl + " --silent --fail"], env={**env, "HF_TOKEN": ""}, timeout=60)
    assert refused.returncode != 0
    # The gateway writes usage once a second; the page reads itself again meanwhile.
    requests = page.locator("#endpoint-metrics dt:has-text('Requests') + dd")
    expect(requests).to_have_text("3", timeout=30_000)
    assert float(page.locator("#endpoint-metrics dt:has-text('Tokens/s') + dd").inner_text()) > 0


def test_the_resource_console_and_the_endpoint_list_show_it(portal: Portal) -> None:
    page = portal.page
    page.click("header.top a[href='/resource-console']")
    page.wait_for_url("**/resource-console")
    row = page.locator(f"table.console tr[data-instance='endpoint:{portal.owner}/chat']")
    expect(row).to_contain_text("Running")
    expect(row).to_contain_text(f"{portal.owner}/tiny-chat")
    expect(row).to_contain_text("local")
    expect(row.locator("td").nth(5)).to_have_text("1 / 1")
    assert int(row.locator("td").nth(7).inner_text()) >= 3, "the snippets' requests are counted"
    assert row.locator("td").nth(6).inner_text() != "—", "a running endpoint has an uptime"
    shot(page, "resource-console")
    expect(page.locator("main a[href='/endpoints']")).to_have_text("Endpoints you may call")
    row.locator("a").first.click()
    page.wait_for_url(portal.summary)
    # The owner's profile lists it, and links to their endpoints.
    page.click("header.top a.me")
    expect(page.locator(".profile-endpoints li", has_text="chat")).to_contain_text("Running")
    page.click(".profile-endpoints h2 a")
    page.wait_for_url(f"**/endpoints?owner={portal.owner}")
    expect(page.locator(f"table.endpoint-list tr[data-endpoint='{portal.owner}/chat']")).to_contain_text("Running")


def test_another_user_gets_the_404_page_for_a_private_endpoint(browser: Browser, portal: Portal) -> None:
    context, page, _ = sign_in(browser, portal.live.url, portal.other, PASSWORD)
    for path in ("", "/settings"):
        seen = page.goto(portal.summary + path)
        assert seen is not None and seen.status == 404
        expect(page.locator("h1")).to_have_text("Page not found")
    # A stop posted with a valid form token of their own finds nothing to stop either.
    token = next(c["value"] for c in context.cookies() if c["name"] == "csghub_csrf")
    refused = page.request.post(f"{portal.summary}/stop", form={"csrf_token": token})
    assert refused.status == 404 and "Page not found" in refused.text()
    page.goto(f"{portal.live.url}/endpoints")
    assert page.locator(f"tr[data-endpoint='{portal.owner}/chat']").count() == 0
    page.goto(f"{portal.live.url}/resource-console")
    expect(page.locator("main")).to_contain_text("Nothing runs for you yet")
    context.close()
    anonymous = httpx.get(portal.summary)
    assert anonymous.status_code == 404 and "Page not found" in anonymous.text
    # Signed out, the form asks for a sign-in that comes back to it.
    form = httpx.get(f"{portal.live.url}/endpoints/new?model={portal.owner}/tiny-chat")
    assert form.status_code == 303
    assert form.headers["location"] == f"/login?next=/endpoints/new%3Fmodel%3D{portal.owner}/tiny-chat"


def test_bad_form_input_is_refused_next_to_its_field_and_creates_nothing(portal: Portal) -> None:
    page = portal.page
    new = f"{portal.live.url}/endpoints/new?model={portal.owner}/tiny-chat"
    page.goto(new)
    page.fill("#endpoint-form input[name=name]", "chat")
    page.click("#endpoint-form button[type=submit]")
    expect(page.locator("#error-name")).to_have_text("An endpoint named 'chat' already exists")
    expect(page.locator("#endpoint-form input[name=name]")).to_have_attribute("aria-invalid", "true")
    for low, high in (("0", "1"), ("1", "6")):
        page.goto(new)
        page.fill("#endpoint-form input[name=name]", "other")
        page.fill("#endpoint-form input[name=min_replicas]", low)
        page.fill("#endpoint-form input[name=max_replicas]", high)
        # The browser refuses it first; the hub too, for a client that skips the browser's checks.
        assert page.locator("#endpoint-form").evaluate("form => !form.checkValidity()")
        page.locator("#endpoint-form").evaluate("form => { form.noValidate = true; }")
        page.click("#endpoint-form button[type=submit]")
        expect(page.locator("#error-replicas")).to_contain_text("Invalid replicas")
        expect(page.locator("#endpoint-form input[name=name]")).to_have_value("other")
    assert portal.count() == 1


def test_the_form_speaks_chinese(portal: Portal) -> None:
    page = portal.page
    page.goto(f"{portal.live.url}/lang/zh?next=/endpoints/new")
    page.goto(f"{portal.live.url}/endpoints/new?model={portal.owner}/tiny-chat")
    expect(page.locator("main h1")).to_have_text("新建专属推理端点")
    expect(page.locator("#endpoint-form")).to_contain_text("端点名称")
    expect(page.locator("#endpoint-form")).to_contain_text("副本数")
    expect(page.locator("#endpoint-form button[type=submit]")).to_have_text("创建端点")
    page.fill("#endpoint-form input[name=name]", "chat")
    page.click("#endpoint-form button[type=submit]")
    expect(page.locator("#error-name")).to_have_text("名为“chat”的端点已存在")
    shot(page, "endpoint-new-zh")
    page.goto(f"{portal.live.url}/lang/en?next=/")
    assert portal.count() == 1


def test_settings_reuse_the_form_and_a_public_endpoint_opens_to_everyone(portal: Portal) -> None:
    page = portal.page
    page.goto(portal.summary)
    page.click(".endpoint-actions a:has-text('Settings')")
    page.wait_for_url(f"{portal.summary}/settings")
    form = page.locator("#endpoint-form")
    expect(form.locator("input[name=name]")).to_have_value("chat")
    expect(form.locator("input[name=max_replicas]")).to_have_value("1")
    form.locator("input[name=max_replicas]").fill("2")
    form.locator("input[value=public]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_url(portal.summary)
    expect(page.locator("p.notice")).to_have_text("Settings saved")
    expect(page.locator("#endpoint-replicas")).to_contain_text("up to 2")
    expect(page.locator(".endpoint-head .badge")).to_have_count(0)
    # Public: the Summary opens to anyone, its snippets need no token, and it has no owner's controls.
    anonymous = httpx.get(portal.summary)
    assert anonymous.status_code == 200 and f"{portal.owner}/chat/v1" in anonymous.text
    assert "HF_TOKEN" not in anonymous.text and "endpoint-actions" not in anonymous.text
    assert "endpoint-log" not in anonymous.text, "logs are the owner's"


def test_the_owner_stops_then_deletes_the_endpoint(portal: Portal) -> None:
    page = portal.page
    page.goto(portal.summary)
    page.click(".endpoint-actions button:has-text('Stop')")
    expect(page.locator("p.notice")).to_have_text("Endpoint stopped")
    expect(page.locator("#endpoint-state .state")).to_have_text("Stopped")
    gone = httpx.post(
        f"{portal.live.url}/endpoints/{portal.owner}/chat/v1/chat/completions",
        headers={"authorization": f"Bearer {portal.token}"},
        json={"model": f"{portal.owner}/chat", "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert gone.status_code == 503 and "no healthy replica" in gone.text
    page.click(".endpoint-actions button:has-text('Delete')")
    page.wait_for_url("**/resource-console")
    expect(page.locator("p.notice")).to_have_text("Endpoint deleted")
    expect(page.locator("main")).to_contain_text("Nothing runs for you yet")
    assert portal.count() == 0
    assert page.goto(portal.summary).status == 404  # type: ignore[union-attr]
    assert portal.problems == []
