"""Spaces on a live hub with the local runner: huggingface_hub's space calls (create with an sdk,
runtime, secrets, variables, sleep time, hardware, pause, restart), a static space running with no
process, a Gradio app pushed with git that reaches running on the `gradio` runtime (its health read from
its replica directly: the proxy's tests go through the hub's door) with a secret in its environment that
no answer ever shows, a push that rebuilds it while the previous app serves, an app that exits ending in
runtime-error, sleep after idle time then a wake, a Streamlit app uploaded with huggingface_hub, and a
requirements.txt pip cannot satisfy ending in build-failed with pip's error.

One hub for the module; the Gradio tests run in order on one space."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import RepositoryNotFoundError
from sqlalchemy import select

from csghub.db.models import ComputeInstance, ComputeReplica
from csghub.services.compute.launch import space_dir
from csghub.services.compute.replicas import prune_space_checkouts
from tests.conftest import start_hub
from tests.support.clients import git, setup_git_home
from tests.support.live import LiveHub, kill_replicas_left_in
from tests.support.tiny_models import space_environments
from tests.support.waiting import wait_until

pytestmark = pytest.mark.engine_bound

START_TIMEOUT = 300.0  # a bound: the checkout and Gradio's import, some 20 s on a loaded 2-core machine
BUILD_TIMEOUT = 300.0
SECRET = "the-space-secret-4f7d1c"
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()
GRADIO_APP = f"""import hashlib, os
import gradio as gr

value = os.environ.get("MY_SECRET", "")
print("secret ok:", hashlib.sha256(value.encode()).hexdigest() == "{DIGEST}", flush=True)
print("token kept:", "HF_TOKEN" in os.environ, flush=True)

with gr.Blocks() as demo:
    box = gr.Textbox(label="question")
    out = gr.Textbox(label="answer")
    gr.Button("Ask").click(lambda q: q[::-1], box, out)

demo.launch()
"""


@dataclass
class Started:
    live: LiveHub
    owner: str
    token: str
    other_token: str
    genv: dict[str, str]
    work: Path

    def hf(self, token: str | None = None) -> HfApi:
        return HfApi(endpoint=self.live.url, token=self.token if token is None else token)

    def status(self, repo: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.live.url}/api/v1/spaces/{repo}/status", headers=self.auth, timeout=30)
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()["data"]
        return data

    def log(self, repo: str, kind: str) -> str:
        url = f"{self.live.url}/api/v1/spaces/{repo}/logs?kind={kind}&follow=false"
        return httpx.get(url, headers=self.auth, timeout=60).text

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def push(self, repo: str, files: dict[str, str]) -> None:
        folder = self.work / repo.replace("/", "--")
        if not folder.exists():
            url = f"http://{self.owner}:{self.token}@{self.live.host()}/spaces/{repo}"
            git("clone", url, str(folder), cwd=self.work, env=self.genv)
        for path, text in files.items():
            (folder / path).write_text(text)
        git("add", ".", cwd=folder, env=self.genv)
        git("commit", "-m", "app", cwd=folder, env=self.genv)
        git("push", "origin", "main", cwd=folder, env=self.genv)

    def instance_id(self, repo: str) -> int:
        with self.live.hub.db() as session:
            found = session.scalar(
                select(ComputeInstance.id).where(
                    ComputeInstance.kind == "space", ComputeInstance.name == repo.split("/")[1]
                )
            )
        assert found is not None, repo
        return found

    def replicas(self, repo: str) -> list[str]:
        """The healthy replicas' URLs of the space's instance."""
        name = repo.split("/")[1]
        with self.live.hub.db() as session:
            instance = session.scalar(
                select(ComputeInstance.id).where(ComputeInstance.kind == "space", ComputeInstance.name == name)
            )
            healthy = (ComputeReplica.instance_id == instance) & (ComputeReplica.state == "healthy")
            rows = session.scalars(select(ComputeReplica.url).where(healthy))
            return [u for u in rows if u]

    def wait_stage(self, repo: str, *stages: str, timeout: float) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        def reached() -> bool:
            seen.update(self.status(repo))
            return seen["stage"] in stages

        wait_until(reached, f"{repo} in {stages}", timeout=timeout, poll=0.5)
        return seen


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    space_environments()
    root = tmp_path_factory.mktemp("spaces")
    live = start_hub(root / "data")
    try:
        owner, token = live.user("spowner")
        _, other = live.user("spother")
        yield Started(live, owner, token, other, setup_git_home(root / "home"), root)
    finally:
        live.stop()
        kill_replicas_left_in(live.data_dir)


def test_huggingface_hub_space_calls_on_a_static_space(started: Started) -> None:
    hf, repo = started.hf(), f"{started.owner}/site"
    hf.create_repo(repo, repo_type="space", space_sdk="static")
    assert hf.get_space_runtime(repo).stage == "NO_APP_FILE"
    hf.upload_file(path_or_fileobj=b"<p>hello</p>\n", path_in_repo="index.html", repo_id=repo, repo_type="space")
    runtime = hf.get_space_runtime(repo)
    assert runtime.stage == "RUNNING" and hf.space_info(repo).runtime is not None
    assert started.status(repo)["static"] is True and started.replicas(repo) == []  # served, no process
    hf.add_space_secret(repo, "API_KEY", SECRET, description="for the app")
    secrets = hf.get_space_secrets(repo)
    assert list(secrets) == ["API_KEY"] and secrets["API_KEY"].description == "for the app"
    variables = hf.add_space_variable(repo, "GREETING", "hello")
    assert variables["GREETING"].value == "hello" and hf.get_space_variables(repo)["GREETING"].value == "hello"
    assert "GREETING" not in hf.delete_space_variable(repo, "GREETING")
    hf.delete_space_secret(repo, "API_KEY")
    assert hf.get_space_secrets(repo) == {}
    assert hf.set_space_sleep_time(repo, 600).sleep_time is None  # a static space never sleeps
    assert hf.request_space_hardware(repo, "cpu-2").requested_hardware == "cpu-2"
    assert hf.pause_space(repo).stage == "PAUSED"
    assert hf.restart_space(repo).stage == "RUNNING"
    hf.create_repo(f"{started.owner}/hidden", repo_type="space", space_sdk="static", private=True)
    with pytest.raises(RepositoryNotFoundError):
        started.hf(started.other_token).get_space_runtime(f"{started.owner}/hidden")


def test_a_gradio_app_pushed_with_git_runs_with_its_secret(started: Started) -> None:
    hf, repo = started.hf(), f"{started.owner}/demo"
    hf.create_repo(repo, repo_type="space", space_sdk="gradio")
    hf.add_space_secret(repo, "MY_SECRET", SECRET)
    started.push(repo, {"app.py": GRADIO_APP})
    status = started.wait_stage(repo, "running", "runtime-error", "build-failed", timeout=START_TIMEOUT)
    assert status["stage"] == "running", status["reason"]
    assert hf.get_space_runtime(repo).stage == "RUNNING"
    (url,) = started.replicas(repo)
    config = httpx.get(f"{url}{status['path']}config", timeout=30)
    assert config.status_code == 200 and "components" in config.json()
    run_log = started.log(repo, "run")
    assert "secret ok: True" in run_log and "token kept: False" in run_log
    answers = [run_log, started.log(repo, "build"), httpx.get(f"{started.live.url}/api/spaces/{repo}").text]
    answers += [httpx.get(f"{started.live.url}/api/spaces/{repo}/secrets", headers=started.auth).text]
    assert all(SECRET not in text for text in answers)


def test_a_push_to_a_running_space_rebuilds_it_on_the_new_commit(started: Started) -> None:
    repo = f"{started.owner}/demo"
    before = started.status(repo)
    started.push(repo, {"app.py": GRADIO_APP.replace('label="answer"', 'label="reply"')})
    head = started.hf().space_info(repo).sha
    assert head != before["commit"]

    status = started.status(repo)
    # The previous app serves while the new commit starts: running, as Hugging Face's RUNNING_BUILDING.
    assert status["commit"] == head and status["stage"] == "running"
    assert status["hf_stage"] in ("RUNNING_BUILDING", "RUNNING_APP_STARTING", "RUNNING")

    def moved() -> bool:
        return started.status(repo)["hf_stage"] in ("RUNNING", "RUNTIME_ERROR") and len(started.replicas(repo)) == 1

    wait_until(moved, "the space running on the pushed commit alone", timeout=START_TIMEOUT, poll=0.5)
    assert started.status(repo)["hf_stage"] == "RUNNING"
    (url,) = started.replicas(repo)
    assert '"reply"' in httpx.get(f"{url}{before['path']}config", timeout=30).text
    # The previous commit's checkout goes once only the new one runs; the app's caches (.state) stay.
    folder = space_dir(started.live.hub, started.instance_id(repo))
    assert (folder / before["commit"][:12]).is_dir()
    prune_space_checkouts(started.live.hub)
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == [".state", head[:12]]


def test_an_app_that_exits_ends_in_runtime_error_with_its_last_line(started: Started) -> None:
    hf, repo = started.hf(), f"{started.owner}/crash"
    hf.create_repo(repo, repo_type="space", space_sdk="gradio")
    started.push(repo, {"app.py": "print('starting up', flush=True)\nraise SystemExit('the app gave up: no model')\n"})
    status = started.wait_stage(repo, "runtime-error", "running", timeout=START_TIMEOUT)
    assert status["stage"] == "runtime-error" and hf.get_space_runtime(repo).stage == "RUNTIME_ERROR"
    assert "the app gave up: no model" in status["reason"]
    assert "starting up" in started.log(repo, "run")


def test_a_push_whose_app_cannot_start_shows_runtime_error_not_the_previous_app(started: Started) -> None:
    hf, repo = started.hf(), f"{started.owner}/regress"
    hf.create_repo(repo, repo_type="space", space_sdk="gradio")
    started.push(repo, {"app.py": GRADIO_APP})
    assert started.wait_stage(repo, "running", "runtime-error", timeout=START_TIMEOUT)["stage"] == "running"
    started.push(repo, {"app.py": "raise SystemExit('the new commit is broken')\n"})
    head = hf.space_info(repo).sha
    status = started.wait_stage(repo, "runtime-error", timeout=START_TIMEOUT)
    # What the page says runs is the branch's head, and it is the failure: the old app is gone too.
    assert status["commit"] == head and "the new commit is broken" in status["reason"]
    wait_until(lambda: started.replicas(repo) == [], "the previous app's process to end", timeout=60, poll=0.2)


def test_deleting_a_running_space_stops_its_app_at_once(started: Started) -> None:
    hf, repo = started.hf(), f"{started.owner}/short-lived"
    hf.create_repo(repo, repo_type="space", space_sdk="gradio")
    started.push(repo, {"app.py": GRADIO_APP})
    status = started.wait_stage(repo, "running", "runtime-error", timeout=START_TIMEOUT)
    assert status["stage"] == "running", status["reason"]
    (url,) = started.replicas(repo)
    assert httpx.get(f"{url}{status['path']}config", timeout=30).status_code == 200
    folder = space_dir(started.live.hub, started.instance_id(repo))
    assert folder.is_dir()
    hf.delete_repo(repo, repo_type="space")
    assert not folder.exists()
    with pytest.raises(httpx.TransportError):  # its process ended before the delete answered
        httpx.get(f"{url}{status['path']}config", timeout=5)
    assert httpx.get(f"{started.live.url}{status['path']}", timeout=30).status_code == 404
    with started.live.hub.db() as session:
        assert session.scalar(select(ComputeInstance.id).where(ComputeInstance.name == "short-lived")) is None


def test_a_space_sleeps_when_idle_and_a_visit_wakes_it(started: Started) -> None:
    hf, repo = started.hf(), f"{started.owner}/demo"
    assert hf.set_space_sleep_time(repo, 2).sleep_time == 2
    assert started.wait_stage(repo, "sleeping", timeout=60)["hf_stage"] == "SLEEPING"
    # Sleeping is recorded first (no supervisor restarts it meanwhile), then its process ends.
    wait_until(lambda: started.replicas(repo) == [], "the sleeping app's process to end", timeout=60, poll=0.2)
    assert hf.get_space_runtime(repo).stage == "SLEEPING"
    hf.set_space_sleep_time(repo, 3600)
    woken = httpx.post(f"{started.live.url}/api/v1/spaces/{repo}/wakeup", headers=started.auth, timeout=30)
    assert woken.json()["data"]["stage"] == "building"
    assert started.wait_stage(repo, "running", "runtime-error", timeout=START_TIMEOUT)["stage"] == "running"


def test_a_streamlit_app_created_with_huggingface_hub_runs(started: Started) -> None:
    hf, repo = started.hf(), f"{started.owner}/board"
    hf.create_repo(repo, repo_type="space", space_sdk="streamlit")
    app = "import streamlit as st\n\nst.title('board')\nst.write(st.text_input('q')[::-1])\n"
    hf.upload_file(path_or_fileobj=app.encode(), path_in_repo="app.py", repo_id=repo, repo_type="space")
    status = started.wait_stage(repo, "running", "runtime-error", "build-failed", timeout=START_TIMEOUT)
    assert (status["stage"], status["sdk"]) == ("running", "streamlit"), status["reason"]
    (url,) = started.replicas(repo)
    health = httpx.get(f"{url}{status['path']}_stcore/health", timeout=30)
    assert health.status_code == 200 and health.text == "ok"


def test_a_requirement_pip_cannot_find_ends_in_build_failed_with_pips_error(started: Started) -> None:
    hf, repo = started.hf(), f"{started.owner}/broken"
    hf.create_repo(repo, repo_type="space", space_sdk="gradio")
    started.push(repo, {"app.py": GRADIO_APP, "requirements.txt": "csghub-no-such-package-xyz==1.0\n"})
    status = started.wait_stage(repo, "build-failed", "running", timeout=BUILD_TIMEOUT)
    assert status["stage"] == "build-failed" and status["hf_stage"] == "BUILD_ERROR"
    assert "csghub-no-such-package-xyz" in status["reason"]
    assert "No matching distribution" in status["reason"], status["reason"]
    assert "No matching distribution" in started.log(repo, "build")
