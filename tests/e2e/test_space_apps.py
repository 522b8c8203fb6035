"""Real Gradio and Streamlit apps through the hub's door, in Chromium: each pushed to a space on a live
hub (`csghub serve` with its supervisor and the local runner), built on its SDK's runtime environment
and started by the spaces service, then driven only through /apps/{owner}/{name}/ in a sandboxed
document (the isolation headers): type, click, see the answer, which Gradio sends over Server-Sent
Events and Streamlit over its WebSocket. The Gradio space is private: the visitor's browser gets in
through a capability (the session cookie never reaches the app); the Streamlit one is public and
opened inside a sandboxed iframe, as the space page embeds it. Then a Gradio app pushed with git and a
Streamlit app each load the private tiny model from this hub with transformers (the owner lets them have a
read token; a space variable names the model) and answer with it on the space's own page, for an anonymous
visitor.

One hub for the module."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from playwright.sync_api import Frame, Page, expect

from csghub.services.identity import accounts, tokens
from tests.conftest import start_hub
from tests.support.browser import chromium, sign_in
from tests.support.clients import git, setup_git_home
from tests.support.live import LiveHub, kill_replicas_left_in
from tests.support.tiny_models import space_environments, tiny_chat_model
from tests.support.waiting import wait_until

pytestmark = pytest.mark.engine_bound

START_TIMEOUT = 300.0  # a bound: the environments are built beforehand (scripts/test); a start is ~10-30 s
PASSWORD = "correct horse battery"
SANDBOX = "allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads"
GRADIO_APP = """import gradio as gr


def answer(question):
    return f"The hub says: {question[::-1]}"


with gr.Blocks() as demo:
    question = gr.Textbox(label="Question", elem_id="question")
    ask = gr.Button("Ask", elem_id="ask")
    reply = gr.Textbox(label="Answer", elem_id="answer")
    ask.click(answer, question, reply)

demo.launch()
"""
# Loads the model from the hub it runs on (HF_ENDPOINT, and HF_TOKEN since its owner allows it) and answers
# with the commit it loaded, so the test can tell where the weights came from.
MODEL_APP = """import os

import gradio as gr
from huggingface_hub import model_info
from transformers import pipeline

REPO = os.environ["MODEL_ID"]
SHA = model_info(REPO).sha
generate = pipeline("text-generation", model=REPO, revision=SHA)


def answer(question):
    text = generate(question, max_new_tokens=6, do_sample=False)[0]["generated_text"]
    return f"{SHA[:12]} {text}"


with gr.Blocks() as demo:
    question = gr.Textbox(label="Question", elem_id="question")
    ask = gr.Button("Ask", elem_id="ask")
    reply = gr.Textbox(label="Answer", elem_id="answer")
    ask.click(answer, question, reply)

demo.launch()
"""
STREAMLIT_MODEL_APP = """import os

import streamlit as st
from huggingface_hub import model_info
from transformers import pipeline


@st.cache_resource
def load():
    repo = os.environ["MODEL_ID"]
    sha = model_info(repo).sha
    return sha, pipeline("text-generation", model=repo, revision=sha)


sha, generate = load()
st.title("Chat")
question = st.text_input("Question")
if st.button("Ask"):
    text = generate(question, max_new_tokens=6, do_sample=False)[0]["generated_text"]
    st.text(f"{sha[:12]} {text}")
"""
STREAMLIT_APP = """import streamlit as st

st.title("Echo")
question = st.text_input("Question")
if st.button("Ask"):
    st.write(f"The hub says: {question[::-1]}")
"""


@dataclass
class Apps:
    live: LiveHub
    owner: str
    token: str

    def push(self, name: str, sdk: str, app: str, *, private: bool) -> str:
        repo = f"{self.owner}/{name}"
        hf = HfApi(endpoint=self.live.url, token=self.token)
        hf.create_repo(repo, repo_type="space", space_sdk=sdk, private=private)
        card = f"---\ntitle: {name}\nsdk: {sdk}\napp_file: app.py\n---\n"
        hf.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=repo, repo_type="space")
        hf.upload_file(path_or_fileobj=app.encode(), path_in_repo="app.py", repo_id=repo, repo_type="space")
        return repo

    def status(self, repo: str) -> dict[str, Any]:
        answer = httpx.get(
            f"{self.live.url}/api/v1/spaces/{repo}/status", headers={"authorization": f"Bearer {self.token}"}
        )
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()["data"]
        assert data["stage"] not in ("build-failed", "runtime-error", "stopped"), data
        return data

    def running(self, repo: str) -> None:
        wait_until(lambda: self.status(repo)["stage"] == "running", f"{repo} running", timeout=START_TIMEOUT, poll=0.5)
        # Running, and its app answering through the door (the replica is healthy).
        wait_until(
            lambda: (
                httpx.get(
                    f"{self.live.url}/apps/{repo}/", headers={"authorization": f"Bearer {self.token}"}
                ).status_code
                == 200
            ),
            f"{repo} answering",
            timeout=60,
            poll=0.5,
        )


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apps]:
    space_environments()
    live = start_hub(tmp_path_factory.mktemp("space-apps") / "data")
    try:
        owner = f"apps{secrets.token_hex(4)}"
        accounts.create_user(live.hub, owner, email=f"{owner}@example.com", password=PASSWORD)
        token = tokens.create_token(live.hub, owner, scope="write")[0]
        yield Apps(live, owner, token)
    finally:
        live.stop()
        kill_replicas_left_in(live.data_dir)


def _ask(frame: Frame | Page, question: str, field: str, button: str) -> None:
    frame.locator(field).fill(question)
    frame.locator(button).click()


def test_private_gradio_space_answers_in_chromium_through_the_hub(apps: Apps) -> None:
    repo = apps.push("echo-gradio", "gradio", GRADIO_APP, private=True)
    apps.running(repo)
    with chromium() as browser:
        context, page, _ = sign_in(browser, apps.live.url, apps.owner, PASSWORD)
        events: list[str] = []
        page.on("request", lambda r: events.append(r.url) if "/queue/data" in r.url else None)
        page.goto(f"{apps.live.url}/apps/{repo}/")
        assert f"/apps/{repo}/~" in page.url  # the capability, handed out after the session was checked
        assert page.evaluate("self.origin") == "null"  # the sandbox: an opaque origin
        _ask(page, "hello", "#question textarea", "#ask")
        expect(page.locator("#answer textarea")).to_have_value("The hub says: olleh", timeout=30_000)
        assert events, "the answer came over Gradio's SSE stream"
        context.close()
    anonymous = httpx.get(f"{apps.live.url}/apps/{repo}/config")
    assert anonymous.status_code == 404 and anonymous.json()["code"] == "RepoNotFound"


def test_public_streamlit_space_answers_in_a_sandboxed_iframe(apps: Apps) -> None:
    repo = apps.push("echo-streamlit", "streamlit", STREAMLIT_APP, private=False)
    apps.running(repo)
    with chromium() as browser:
        page = browser.new_page()
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.goto(f"{apps.live.url}/")
        page.evaluate(
            "([src, sandbox]) => { const f = document.createElement('iframe'); f.src = src; f.name = 'app';"
            " f.setAttribute('sandbox', sandbox); f.style.width = '1000px'; f.style.height = '700px';"
            " document.body.prepend(f); }",
            [f"/apps/{repo}/", SANDBOX],
        )
        # A frame locator waits for the frame itself: Playwright may learn of a new frame after the page's
        # own window.frames counts it.
        frame = page.frame_locator("iframe[name=app]")
        expect(frame.locator("h1")).to_contain_text("Echo", timeout=60_000)
        field = frame.get_by_label("Question")
        field.fill("hello")
        field.press("Enter")
        frame.get_by_role("button", name="Ask").click()
        expect(frame.get_by_text("The hub says: olleh")).to_be_visible(timeout=30_000)
        assert any(url.endswith(f"/apps/{repo}/_stcore/stream") for url in sockets), sockets
        page.close()


@pytest.fixture(scope="module")
def model(apps: Apps) -> tuple[str, str]:
    """The tiny chat model, private, on the module's hub: (its name, its commit)."""
    name = f"{apps.owner}/tiny-chat"
    hf = HfApi(endpoint=apps.live.url, token=apps.token)
    hf.create_repo(name, private=True)
    hf.upload_folder(repo_id=name, folder_path=tiny_chat_model(), commit_message="a tiny chat model")
    sha = hf.model_info(name).sha
    assert sha
    return name, sha


def _model_space(apps: Apps, repo: str, sdk: str, model: str) -> HfApi:
    """A public space of `sdk` whose app may read the private `model` (named by a variable)."""
    hf = HfApi(endpoint=apps.live.url, token=apps.token)
    hf.create_repo(repo, repo_type="space", space_sdk=sdk)
    hf.add_space_variable(repo, "MODEL_ID", model)
    allowed = httpx.put(
        f"{apps.live.url}/api/v1/spaces/{repo}/settings",
        json={"allow_token": True},
        headers={"authorization": f"Bearer {apps.token}"},
    )
    assert allowed.status_code == 200, allowed.text
    return hf


def test_a_gradio_app_pushed_with_git_answers_with_the_model_it_loads_from_this_hub(
    apps: Apps, model: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    (model_name, sha), repo = model, f"{apps.owner}/chat"
    _model_space(apps, repo, "gradio", model_name)

    root = tmp_path_factory.mktemp("git-push")
    env = setup_git_home(root / "home")
    git(
        "clone",
        f"http://{apps.owner}:{apps.token}@{apps.live.host()}/spaces/{repo}",
        str(root / "chat"),
        cwd=root,
        env=env,
    )
    card = f"---\ntitle: Chat\nsdk: gradio\napp_file: app.py\nmodels:\n- {model_name}\n---\n"
    (root / "chat" / "README.md").write_text(card)
    (root / "chat" / "app.py").write_text(MODEL_APP)
    git("add", ".", cwd=root / "chat", env=env)
    git("commit", "-m", "a chat app on the tiny model", cwd=root / "chat", env=env)
    git("push", "origin", "main", cwd=root / "chat", env=env)
    apps.running(repo)

    with chromium() as browser:
        page = browser.new_page()  # anonymous: the space is public, the model is not
        page.goto(f"{apps.live.url}/spaces/{repo}")
        frame = page.frame_locator("iframe")
        frame.locator("#question textarea").fill("hello")
        frame.locator("#ask").click()
        answer = frame.locator("#answer textarea")
        expect(answer).to_have_value(re.compile(rf"^{sha[:12]} hello.+", re.DOTALL), timeout=60_000)
        page.close()
    assert httpx.get(f"{apps.live.url}/api/models/{model_name}").status_code in (401, 404)  # still private


def test_a_streamlit_app_answers_with_the_model_it_loads_from_this_hub(apps: Apps, model: tuple[str, str]) -> None:
    (model_name, sha), repo = model, f"{apps.owner}/st-chat"
    hf = _model_space(apps, repo, "streamlit", model_name)
    card = f"---\ntitle: Chat\nsdk: streamlit\napp_file: app.py\nmodels:\n- {model_name}\n---\n"
    hf.upload_file(path_or_fileobj=STREAMLIT_MODEL_APP.encode(), path_in_repo="app.py", repo_id=repo, repo_type="space")
    hf.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=repo, repo_type="space")
    apps.running(repo)
    with chromium() as browser:
        page = browser.new_page()  # anonymous: the space is public, the model is not
        page.goto(f"{apps.live.url}/spaces/{repo}")
        frame = page.frame_locator("iframe")
        field = frame.get_by_label("Question")
        # Streamlit runs the script (importing transformers, loading the model) only once a browser
        # connects, and draws the field after that: on a busy machine it takes longer than a click.
        expect(field).to_be_visible(timeout=120_000)
        field.fill("hello")
        field.press("Enter")
        frame.get_by_role("button", name="Ask").click()
        answer = frame.locator('[data-testid="stText"]')
        expect(answer).to_have_text(re.compile(rf"^{sha[:12]} hello.+", re.DOTALL), timeout=60_000)
        page.close()
