"""Spaces' runtime on real environments: the launcher starts a Gradio and a Streamlit app from a local
folder under the hub's path for it (answering its health path and its own routes there, in its folder,
with the environment the hub gives it), and a requirements.txt layer is built once on its SDK's environment
and reused, or fails with pip's own words."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from csghub.runtime import environments
from csghub.runtime.base import Environment
from csghub.runtime.environments import BuildError
from csghub.runtime.frameworks import health_path, space_environment
from csghub.runtime.offline import minimal_env
from csghub.runtime.workers import script
from tests.support.tiny_models import builtin_environment, shared_runtimes_dir
from tests.support.waiting import wait_until

pytestmark = pytest.mark.engine_bound  # no database: scripts/test runs it on SQLite only

BASE = "/apps/alice/hello/"
# Writes what the app sees at start into its folder (so its working directory is the checkout), then runs.
REPORT = """import json, os
names = ("HF_ENDPOINT", "HF_TOKEN", "HF_HUB_OFFLINE", "MY_SECRET", "HOME", "GRADIO_ANALYTICS_ENABLED")
json.dump({name: os.environ.get(name) for name in names}, open("seen.json", "w"))
"""
GRADIO_APP = (
    REPORT
    + """import gradio as gr

def greet(name):
    return f"Hello {name}!"

gr.Interface(greet, gr.Textbox(label="name"), gr.Textbox(label="greeting"), title="Greeter").launch()
"""
)
STREAMLIT_APP = 'import streamlit as st\nst.title("Streamlit greeter")\n'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None


def _launch(
    environment: Environment, folder: Path, sdk: str, log: Path, token_allowed: bool
) -> Iterator[tuple[str, int]]:
    assert environment.python_path is not None
    port = _free_port()
    argv = [environment.python_path, str(script("serve_space")), "--source-dir", str(folder), "--sdk", sdk]
    argv += ["--app-file", "app.py", "--host", "127.0.0.1", "--port", str(port), "--base-path", BASE]
    hub_gives = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_TOKEN": "hf_checkout", "MY_SECRET": "s3cr3t"}
    if token_allowed:
        hub_gives["CSGHUB_SPACE_TOKEN_ALLOWED"] = "1"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv, env=minimal_env(hub_gives), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        up = health_path(sdk, BASE)
        wait_until(
            lambda: process.poll() is not None or ((r := _get(url + up)) is not None and r.status_code == 200),
            f"{sdk} answering {up}",
            timeout=50,
            poll=0.2,
        )
        assert process.poll() is None, log.read_text()
        yield url, process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def gradio_app(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "space"
    folder.mkdir()
    (folder / "app.py").write_text(GRADIO_APP)
    environment = builtin_environment("gradio")
    for url, _ in _launch(environment, folder, "gradio", tmp_path / "app.log", token_allowed=False):
        yield url, folder


def test_a_gradio_app_answers_under_its_base_path_from_its_folder(gradio_app: tuple[str, Path]) -> None:
    url, folder = gradio_app
    config = httpx.get(f"{url}{BASE}config", headers={"X-Forwarded-Host": "hub.test:8080"}, timeout=10).json()
    assert config["title"] == "Greeter"
    assert config["root"] == "http://hub.test:8080/apps/alice/hello"  # the URLs it gives browsers: the hub's
    labels = {c.get("props", {}).get("label") for c in config["components"]}
    assert {"name", "greeting"} <= labels
    page = httpx.get(f"{url}{BASE}", timeout=10)
    assert page.status_code == 200 and 'src="./assets/index-' in page.text  # relative: found under BASE
    # The function answers through Gradio's own API under the base path.
    call = httpx.post(f"{url}{BASE}gradio_api/call/greet", json={"data": ["Ada"]}, timeout=10).json()
    events = httpx.get(f"{url}{BASE}gradio_api/call/greet/{call['event_id']}", timeout=30).text
    assert '["Hello Ada!"]' in events
    seen = json.loads((folder / "seen.json").read_text())
    assert seen["HF_TOKEN"] is None and seen["HF_ENDPOINT"] == "http://127.0.0.1:9" and seen["MY_SECRET"] == "s3cr3t"
    assert seen["HF_HUB_OFFLINE"] == "0" and seen["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert seen["HOME"] is not None and not seen["HOME"].startswith(str(folder))


def test_a_streamlit_app_answers_under_its_base_path_with_the_token_the_owner_allowed(tmp_path: Path) -> None:
    folder = tmp_path / "space"
    folder.mkdir()
    (folder / "app.py").write_text(STREAMLIT_APP)
    environment = builtin_environment("streamlit")
    for url, pid in _launch(environment, folder, "streamlit", tmp_path / "app.log", token_allowed=True):
        assert httpx.get(f"{url}{BASE}_stcore/health", timeout=10).text == "ok"
        page = httpx.get(f"{url}{BASE}", timeout=10)
        assert page.status_code == 200 and "<title>Streamlit</title>" in page.text
        assert httpx.get(f"{url}/_stcore/health", timeout=10).status_code == 404  # only under the base path
        # Streamlit runs the script per browser session: what the app gets is the process's environment.
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        seen = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
        assert seen["HF_TOKEN"] == "hf_checkout" and seen["MY_SECRET"] == "s3cr3t"
        assert "CSGHUB_SPACE_TOKEN_ALLOWED" not in seen and seen["HF_HUB_OFFLINE"] == "0"
        assert Path(f"/proc/{pid}/cwd").resolve() == folder.resolve()
    assert "starting: streamlit app app.py on 127.0.0.1" in (tmp_path / "app.log").read_text()


def test_a_requirements_layer_is_built_on_its_sdk_and_reused_unchanged(tmp_path: Path) -> None:
    runtimes = shared_runtimes_dir()
    base = builtin_environment("gradio")
    layer = space_environment("gradio", ("python-slugify==9.2.0  # slugs",))
    # Built here, every run: only this test uses this layer.
    shutil.rmtree(environments.env_dir(runtimes, layer), ignore_errors=True)
    log = tmp_path / "build.log"

    python = environments.ensure(layer, log, runtimes_dir=runtimes)

    code = "import gradio, slugify, sys; print(slugify.slugify('Hello World'), gradio.__file__, sys.prefix)"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    slug, gradio_at, prefix = done.stdout.split()
    assert slug == "hello-world" and prefix == str(environments.env_dir(runtimes, layer))
    assert gradio_at.startswith(str(environments.env_dir(runtimes, base)))  # seen in the base, not copied
    text = log.read_text()
    assert f"building {layer.key} on {base.key}: python-slugify==9.2.0\n" in text
    installed = [line for line in text.splitlines() if line.startswith("Successfully installed")]
    assert len(installed) == 1 and "python-slugify-9.2.0" in installed[0] and "torch" not in installed[0]
    ready = (environments.env_dir(runtimes, layer) / ".ready").stat().st_mtime_ns

    again = tmp_path / "again.log"
    assert environments.ensure(layer, again, runtimes_dir=runtimes) == python
    assert (environments.env_dir(runtimes, layer) / ".ready").stat().st_mtime_ns == ready
    assert not again.exists()  # nothing ran, nothing was written


def test_a_requirement_pip_cannot_find_fails_the_layer_with_pips_error(tmp_path: Path) -> None:
    builtin_environment("gradio")
    layer = space_environment("gradio", ("csghub-test-no-such-package-4b1d",))
    with pytest.raises(BuildError) as caught:
        environments.ensure(layer, tmp_path / "build.log", runtimes_dir=shared_runtimes_dir())
    assert "No matching distribution found for csghub-test-no-such-package-4b1d" in caught.value.message
    assert caught.value.message.rstrip().endswith("csghub-test-no-such-package-4b1d")
    assert not environments.env_dir(shared_runtimes_dir(), layer).exists()
