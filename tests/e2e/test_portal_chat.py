"""The Playground, the Compare view and a model page's try-it panel in a real browser (Debian's Chromium
driven by Playwright) against a live hub: the tiny chat model pushed and deployed twice, one replica each:
`bot`, private, through CSGHub's deploy API, and `pub`, public, by its owner in the portal (Deploy → the
form → the Summary turning Running → its Playground → Compare). The page's chat goes from the browser to
the endpoint's gateway URL with the viewer's session; what it shows is compared with what the official
OpenAI SDK gets for the same request (greedy, seeded). Screenshots land in docs/screenshots/.

One hub and two deployments for the module; its tests run in order (the first deploys `pub`, the last
stops it)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from openai import OpenAI
from playwright.sync_api import Browser, BrowserContext, Page, expect

from csghub.services.compute import endpoints
from csghub.services.identity import tokens
from tests.conftest import start_hub
from tests.support.browser import shot, sign_in
from tests.support.clients import api
from tests.support.live import LiveHub, kill_replicas_left_in
from tests.support.tiny_models import shared_runtimes_dir, tiny_chat_model
from tests.support.waiting import wait_until

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

DEPLOY_TIMEOUT = 600.0
ANSWER_TIMEOUT = 60_000  # ms: a tiny model's answer on a loaded 2-core machine
PASSWORD = "chat passphrase 7"
PROMPT = "What is the capital of France?"


@dataclass
class Chat:
    live: LiveHub
    owner: str
    token: str
    stranger: str
    browser: Browser
    ids: dict[str, int]

    def sdk(self, name: str) -> OpenAI:
        url = f"{self.live.url}/endpoints/{self.owner}/{name}/v1"
        return OpenAI(base_url=url, api_key=self.token, max_retries=0, timeout=120)

    def sdk_answer(self, name: str, messages: list[dict[str, str]], **params: Any) -> tuple[str, int]:
        """What the SDK streams for the same request as a page's: the text and its content events."""
        stream = self.sdk(name).chat.completions.create(
            model=name,
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            **params,
        )
        pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
        return "".join(pieces), len(pieces)

    def state(self, name: str) -> str:
        with api(self.live.url, self.token) as hub:
            answer = hub.get(f"/api/v1/models/{self.owner}/tiny-chat/run/{self.ids[name]}/status")
        assert answer.status_code == 200, answer.text
        state: str = answer.json()["data"]["state"]
        assert state != "failed", answer.text
        return state

    def page_of(self, name: str) -> tuple[BrowserContext, Page, list[str]]:
        return sign_in(self.browser, self.live.url, name, PASSWORD)


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[Chat]:
    model = tiny_chat_model()
    data_dir = tmp_path_factory.mktemp("portal-chat") / "data"
    env = {"CSGHUB_RUNTIMES_DIR": str(shared_runtimes_dir()), "CSGHUB_COMPUTE_STOP_ON_SHUTDOWN": "true"}
    live = start_hub(data_dir, env)
    try:
        owner, token = live.user("chat", password=PASSWORD)
        stranger, _ = live.user("stranger", password=PASSWORD)
        HfApi(endpoint=live.url, token=token).create_repo(f"{owner}/tiny-chat")
        HfApi(endpoint=live.url, token=token).upload_folder(
            repo_id=f"{owner}/tiny-chat", folder_path=model, commit_message="the tiny model"
        )
        with api(live.url, token) as hub:  # secure_level 2: private
            answer = hub.post(f"/api/v1/models/{owner}/tiny-chat/run", json={"deploy_name": "bot", "secure_level": 2})
        assert answer.status_code == 200, answer.text
        found = Chat(live, owner, token, stranger, browser, {"bot": answer.json()["data"]["deploy_id"]})
        wait_until(lambda: found.state("bot") == "running", "bot running", timeout=DEPLOY_TIMEOUT, poll=0.5)
        yield found
    finally:
        live.stop()
        kill_replicas_left_in(data_dir)


def _settings(page: Page, **values: str) -> None:
    for key, value in values.items():
        page.fill(f"[data-chat] [data-param={key}]", value)


def _send(page: Page, text: str, *, scope: str = "[data-chat]") -> None:
    page.fill(f"{scope} textarea[name=prompt]", text)
    page.press(f"{scope} textarea[name=prompt]", "Enter")


def _last_answer(page: Page, scope: str = "[data-chat]") -> Any:
    answer = page.locator(f"{scope} .chat-msg.chat-assistant").last
    expect(answer).to_have_attribute("data-state", "done", timeout=ANSWER_TIMEOUT)
    return answer


def test_deploy_in_the_portal_then_chat_in_its_playground_and_compare(chat: Chat) -> None:
    context, page, problems = chat.page_of(chat.owner)
    page.goto(f"{chat.live.url}/{chat.owner}/tiny-chat")
    page.click(".deploy-menu summary")
    page.click(".deploy-menu >> text=Dedicated endpoint")
    form = page.locator("#endpoint-form")
    form.locator("input[name=name]").fill("pub")
    form.locator("input[name=visibility][value=public]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{chat.live.url}/endpoints/{chat.owner}/pub")
    expect(page.locator("#endpoint-state .state")).to_have_text("Running", timeout=DEPLOY_TIMEOUT * 1000)
    actor = tokens.actor_from_token(chat.live.hub, chat.token)[0]
    chat.ids["pub"] = endpoints.find_endpoint(chat.live.hub, actor, chat.owner, "pub").id

    page.click(".endpoint-head .tabs >> text=Playground")
    page.wait_for_url(f"{chat.live.url}/endpoints/{chat.owner}/pub/playground")
    expect(page.locator(".tabs a.active")).to_have_text("Playground")
    _settings(page, temperature="0", seed="5", max_tokens="12")
    _send(page, PROMPT)
    messages = [{"role": "user", "content": PROMPT}]
    expected = chat.sdk_answer("pub", messages, temperature=0, seed=5, max_tokens=12)[0]
    assert _last_answer(page).locator(".chat-text").inner_text() == expected

    # Compare: this endpoint chosen by the link, the private one added, both answering side by side.
    page.goto(f"{chat.live.url}/endpoints")
    expect(page.locator("#compare-endpoints")).to_have_attribute("href", "/endpoints/compare")
    page.go_back()
    page.click("#compare-link")
    page.wait_for_url(f"**/endpoints/compare?e={chat.owner}/pub")
    selects = page.locator("[data-compare-endpoint]")
    expect(selects).to_have_count(3)
    expect(selects.nth(1)).to_have_value("")
    selects.nth(1).select_option(label=f"{chat.owner}/bot · {chat.owner}/tiny-chat")
    page.fill("[data-compare] [data-param=seed]", "11")
    page.fill("[data-compare] [data-param=max_tokens]", "12")
    page.fill("[data-compare] textarea[name=prompt]", PROMPT)
    page.click("[data-compare] [data-send]")
    columns = page.locator(".compare-col")
    expect(columns).to_have_count(2)
    for index, name in enumerate(("pub", "bot")):
        column = columns.nth(index)
        expect(column).to_have_attribute("data-state", "done", timeout=ANSWER_TIMEOUT)
        assert column.get_attribute("data-endpoint") == f"{chat.owner}/{name}"
        expected = chat.sdk_answer(name, messages, temperature=0, seed=11, max_tokens=12)[0]
        assert column.locator(".chat-text").inner_text() == expected
        stats = column.locator(".chat-stats").inner_text()
        assert " s · " in stats and "tokens/s" in stats
    # Side by side: the second column starts to the right of the first, on the same row.
    first, second = columns.nth(0).bounding_box(), columns.nth(1).bounding_box()
    assert first and second and second["x"] >= first["x"] + first["width"] and abs(second["y"] - first["y"]) < 2
    shot(page, "endpoint-compare")
    assert problems == []
    context.close()


def test_playground_streams_the_answer_the_sdk_gets_and_keeps_the_conversation(chat: Chat) -> None:
    context, page, problems = chat.page_of(chat.owner)
    page.goto(f"{chat.live.url}/endpoints/{chat.owner}/bot/playground")
    expect(page.locator("h1")).to_contain_text(f"{chat.owner} / bot")
    expect(page.locator("#not-running")).to_have_count(0)
    expect(page.locator("[data-chat] [data-stop]")).to_be_hidden()
    expect(page.locator("#endpoint-state")).to_have_text("Running")
    _settings(page, temperature="0", seed="7", max_tokens="24")
    _send(page, PROMPT)
    answer = _last_answer(page)
    expected, pieces = chat.sdk_answer(
        "bot", [{"role": "user", "content": PROMPT}], temperature=0, seed=7, max_tokens=24
    )
    text = answer.locator(".chat-text").inner_text()
    assert text == expected and expected
    # Shown piece by piece as the events arrived: as many updates as the SDK saw content events.
    assert int(answer.get_attribute("data-pieces") or 0) == pieces > 1
    stats = page.locator("[data-stats]").inner_text()
    assert "tokens/s" in stats and f"{answer.get_attribute('data-tokens')} tokens" in stats

    # The second turn carries the first: the same as the SDK given the whole conversation.
    follow_up = "And of Germany?"
    _send(page, follow_up)
    expect(page.locator(".chat-msg.chat-assistant")).to_have_count(2)
    second = _last_answer(page).locator(".chat-text").inner_text()
    history = [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": expected},
        {"role": "user", "content": follow_up},
    ]
    assert second == chat.sdk_answer("bot", history, temperature=0, seed=7, max_tokens=24)[0]
    shot(page, "endpoint-playground")

    page.click("[data-chat] [data-clear]")
    expect(page.locator(".chat-msg")).to_have_count(0)
    assert problems == []
    context.close()


def test_playground_system_prompt_and_max_tokens_take_effect(chat: Chat) -> None:
    context, page, problems = chat.page_of(chat.owner)
    page.goto(f"{chat.live.url}/endpoints/{chat.owner}/bot/playground")
    system = "You answer every question with one word, in French."
    page.fill("[data-chat] [data-param=system]", system)
    _settings(page, temperature="0", seed="3", max_tokens="1")
    _send(page, PROMPT)
    answer = _last_answer(page)
    assert answer.get_attribute("data-tokens") == "1"
    messages = [{"role": "system", "content": system}, {"role": "user", "content": PROMPT}]
    one, pieces = chat.sdk_answer("bot", messages, temperature=0, seed=3, max_tokens=1)
    assert pieces == 1 and answer.locator(".chat-text").inner_text() == one

    # With room to answer, the system prompt is part of the request: the SDK's answer with it, not without.
    page.click("[data-chat] [data-clear]")
    _settings(page, max_tokens="16")
    _send(page, PROMPT)
    text = _last_answer(page).locator(".chat-text").inner_text()
    with_system = chat.sdk_answer("bot", messages, temperature=0, seed=3, max_tokens=16)[0]
    without = chat.sdk_answer("bot", messages[1:], temperature=0, seed=3, max_tokens=16)[0]
    assert text == with_system != without

    # Stop ends an answer midway and keeps what came, as a turn of the conversation.
    _settings(page, max_tokens="400", temperature="1")
    _send(page, "Tell me a long story.")
    streaming = page.locator(".chat-msg.chat-assistant").last
    expect(streaming).to_have_attribute("data-pieces", re.compile(r"\d"), timeout=ANSWER_TIMEOUT)
    page.click("[data-chat] [data-stop]")
    expect(streaming).to_have_attribute("data-state", "stopped")
    expect(page.locator("[data-stats]")).to_have_text("Stopped")
    assert 0 < int(streaming.get_attribute("data-pieces") or 0) < 400
    assert streaming.locator(".chat-text").inner_text()
    expect(page.locator("[data-chat] [data-stop]")).to_be_hidden()
    assert problems == []
    context.close()


def test_playground_shows_the_gateways_error_and_keeps_the_prompt(chat: Chat) -> None:
    context, page, problems = chat.page_of(chat.owner)
    page.goto(f"{chat.live.url}/endpoints/{chat.owner}/bot/playground")
    _settings(page, max_tokens="100000")
    _send(page, PROMPT)
    error = page.locator("[data-chat] [data-error]")
    expect(error).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(error).to_contain_text("'max_tokens' is too large: 100000")
    assert error.get_attribute("data-code") == "invalid_value"
    # The failed request is not part of the conversation; the prompt waits to be sent again.
    expect(page.locator(".chat-msg")).to_have_count(0)
    assert page.input_value("[data-chat] textarea[name=prompt]") == PROMPT

    # In Chinese: the page's words and the script's own.
    page.goto(f"{chat.live.url}/lang/zh?next=/endpoints/{chat.owner}/bot/playground")
    expect(page.locator("[data-chat] [data-send]")).to_have_text("发送")
    expect(page.locator(".tabs a.active")).to_have_text("试用")
    _settings(page, max_tokens="4")
    _send(page, PROMPT)
    expect(_last_answer(page).locator(".chat-who")).to_have_text("助手")
    expect(page.locator("[data-stats]")).to_contain_text("令牌/秒")
    assert problems == []
    context.close()


def test_answers_are_shown_as_text_never_as_html(chat: Chat) -> None:
    """The tiny model cannot be made to write markup, so the browser is handed an answer that is nothing
    but markup, in the gateway's own stream format; the user's own message carries markup too."""
    context, page, problems = chat.page_of(chat.owner)
    hostile = '<script>window.__pwned = "script"</script><img src=x onerror="window.__pwned = 1">'
    events = [{"choices": [{"index": 0, "delta": {"content": piece}}]} for piece in (hostile[:20], hostile[20:])]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    page.route(
        f"**/endpoints/{chat.owner}/bot/v1/chat/completions",
        lambda route: route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=body),
    )
    page.goto(f"{chat.live.url}/endpoints/{chat.owner}/bot/playground")
    _send(page, "<b>bold?</b>")
    answer = _last_answer(page)
    assert answer.locator(".chat-text").inner_text() == hostile
    assert page.locator(".chat-msg.chat-user .chat-text").inner_text() == "<b>bold?</b>"
    assert page.locator(".chat-log img, .chat-log script, .chat-log b").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert problems == []
    context.close()


def test_gateway_takes_the_session_only_with_the_pages_csrf_token(chat: Chat) -> None:
    context, page, _ = chat.page_of(chat.owner)
    page.goto(f"{chat.live.url}/endpoints/{chat.owner}/bot/playground")
    csrf = page.get_attribute("meta[name=csrf-token]", "content")
    session = next(c["value"] for c in context.cookies() if c["name"] == "csghub_session")
    context.close()
    url = f"{chat.live.url}/endpoints/{chat.owner}/bot/v1/chat/completions"
    request = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 4}
    with httpx.Client(cookies={"csghub_session": session}, timeout=60) as browser_like:
        # What another site's form can make a browser send: the cookie, a form body, no header.
        forged = browser_like.post(
            url, data={"messages": "hi"}, headers={"origin": "http://evil.example", "referer": "http://evil.example/"}
        )
        assert forged.status_code == 403 and forged.json()["error"]["message"].startswith("Missing or wrong CSRF")
        assert browser_like.post(url, json=request, headers={"x-csrf-token": "guess"}).status_code == 403
        answered = browser_like.post(url, json=request, headers={"x-csrf-token": csrf or ""})
    assert answered.status_code == 200 and answered.json()["choices"][0]["message"]["content"]


def test_playground_and_compare_fit_a_phone(chat: Chat) -> None:
    context = chat.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{chat.live.url}/login")
    page.fill("input[name=username]", chat.owner)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{chat.live.url}/")
    for path in (f"/endpoints/{chat.owner}/bot/playground", "/endpoints/compare"):
        page.goto(chat.live.url + path)
        expect(page.locator("textarea[name=prompt]")).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
    context.close()


def test_private_endpoint_is_invisible_to_others(chat: Chat) -> None:
    context, page, _ = chat.page_of(chat.stranger)
    answer = page.goto(f"{chat.live.url}/endpoints/{chat.owner}/bot/playground")
    assert answer is not None and answer.status == 404
    page.goto(f"{chat.live.url}/endpoints/compare")
    options = page.locator("[data-compare-endpoint]").first.locator("option")
    assert options.all_inner_texts() == ["(none)", f"{chat.owner}/pub · {chat.owner}/tiny-chat"]
    context.close()


def test_try_it_panel_only_while_an_endpoint_runs_and_is_visible(chat: Chat) -> None:
    model_page = f"{chat.live.url}/{chat.owner}/tiny-chat"
    context, page, problems = chat.page_of(chat.owner)
    page.goto(model_page)
    panel = page.locator("#try-it")
    expect(panel).to_be_visible()
    assert panel.locator("select[data-chat-endpoint] option").all_inner_texts() == [
        f"{chat.owner}/pub",
        f"{chat.owner}/bot",
    ]
    page.select_option("#try-it select[data-chat-endpoint]", label=f"{chat.owner}/bot")
    _send(page, PROMPT, scope="#try-it")
    assert _last_answer(page, "#try-it").locator(".chat-text").inner_text()
    href = panel.locator("[data-playground-link]").get_attribute("href")
    assert href == f"/endpoints/{chat.owner}/bot/playground"
    shot(page, "model-try-it")

    # Another user and an anonymous visitor see only the public endpoint.
    stranger_context, stranger, _ = chat.page_of(chat.stranger)
    stranger.goto(model_page)
    expect(stranger.locator("#try-it")).to_be_visible()
    assert stranger.locator("#try-it select").count() == 0
    assert f"{chat.owner}/bot" not in stranger.locator("#try-it").inner_text()
    anonymous = chat.browser.new_page()
    anonymous.goto(model_page)
    expect(anonymous.locator("#try-it [data-chat-endpoint]")).to_have_attribute(
        "data-summary", f"/endpoints/{chat.owner}/pub"
    )

    # Stopped, the public endpoint leaves their page; its Playground says so and links to its Summary.
    with api(chat.live.url, chat.token) as hub:
        stopped = hub.put(f"/api/v1/models/{chat.owner}/tiny-chat/run/{chat.ids['pub']}/stop")
    assert stopped.status_code == 200, stopped.text
    wait_until(lambda: chat.state("pub") == "stopped", "pub stopped", timeout=60)
    stranger.goto(model_page)
    expect(stranger.locator("h1, .repo-title").first).to_be_visible()
    assert stranger.locator("#try-it").count() == 0
    page.goto(f"{chat.live.url}/endpoints/{chat.owner}/pub/playground")
    expect(page.locator("#not-running a")).to_have_attribute("href", f"/endpoints/{chat.owner}/pub")
    _send(page, PROMPT)
    error = page.locator("[data-chat] [data-error]")
    expect(error).to_contain_text("This endpoint is not running right now.", timeout=ANSWER_TIMEOUT)
    expect(error.locator("a")).to_have_attribute("href", f"/endpoints/{chat.owner}/pub")
    assert problems == []
    for opened in (context, stranger_context):
        opened.close()
    anonymous.close()
