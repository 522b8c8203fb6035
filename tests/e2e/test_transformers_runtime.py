"""The real `transformers` environment serving the tiny chat model: built into the shared runtimes folder
(the first test to need it pays the build), started by the local runner with the serve_transformers
launcher, which downloads the weights from a live hub, and called with the official OpenAI SDK."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi
from openai import OpenAI

from csghub.runtime.base import HOST, PORT, PYTHON, Environment, Handle, ProcessSpec, ProcessState, Resources, WorkKind
from csghub.runtime.local import LocalProcessRunner
from csghub.runtime.workers import script
from tests.support.live import LiveHub
from tests.support.tiny_models import (
    broken_chat_model,
    tiny_chat_adapter,
    tiny_chat_model,
    transformers_environment,
)
from tests.support.waiting import wait_until

# Its hub only serves downloads, which modules run on both legs also test: scripts/test runs it on SQLite only.
pytestmark = pytest.mark.engine_bound

STARTUP = 180.0  # a bound: `transformers serve` takes 6-8 s alone, far longer on a loaded 2-core machine
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


@dataclass
class Served:
    runner: LocalProcessRunner
    environment: Environment
    hub: LiveHub
    token: str
    models_dir: Path


@pytest.fixture(scope="module")
def served(live: LiveHub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    environment = transformers_environment()
    _, token = live.user("srv")
    root = tmp_path_factory.mktemp("serving")
    runner = LocalProcessRunner(root / "compute")
    yield Served(runner, environment, live, token, root / "models")
    for handle in runner.running():
        runner.stop(handle, grace=5)
    runner.close()


def push(served: Served, folder: Path, name: str) -> tuple[str, str]:
    hf = HfApi(endpoint=served.hub.url, token=served.token)
    repo = f"{hf.whoami()['name']}/{name}-{secrets.token_hex(3)}"
    hf.create_repo(repo, private=True)
    return repo, hf.upload_folder(repo_id=repo, folder_path=folder, commit_message="tiny model").oid


def replica(
    served: Served, repo: str, commit: str, *, token: str | None = None, base: tuple[str, str] | None = None
) -> ProcessSpec:
    local_dir = served.models_dir / f"{repo.replace('/', '--')}-{commit}"
    argv = (PYTHON, str(script("serve_transformers")), "--repo", repo, "--revision", commit)
    argv += ("--local-dir", str(local_dir), "--host", HOST, "--port", PORT)
    if base is not None:
        argv += ("--base-repo", base[0], "--base-revision", base[1])
    return ProcessSpec(
        key=f"replica-{secrets.token_hex(4)}",
        kind=WorkKind.SERVICE,
        argv=argv,
        environment=served.environment,
        resources=Resources(cpus=1, memory_mb=2048),
        env={"HF_ENDPOINT": served.hub.url, "HF_TOKEN": token or served.token},
    )


def healthy(runner: LocalProcessRunner, handle: Handle) -> bool:
    if runner.status(handle).state is not ProcessState.RUNNING:
        raise AssertionError(f"the replica ended:\n{runner.read_log(handle).decode(errors='replace')}")
    try:
        return httpx.get(f"{handle.url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_tiny_model_served_by_two_replicas_answers_the_openai_sdk_and_its_adapter_differs(served: Served) -> None:
    repo, commit = push(served, tiny_chat_model(), "tiny-chat")
    adapter_repo, adapter_commit = push(served, tiny_chat_adapter(), "tiny-lora")
    runner = served.runner
    first = runner.start(replica(served, repo, commit))
    second = runner.start(replica(served, repo, commit))
    merged = runner.start(replica(served, adapter_repo, adapter_commit, base=(repo, commit)))
    for handle in (first, second, merged):
        wait_until(lambda h=handle: healthy(runner, h), "the replica to be healthy", timeout=STARTUP, poll=0.2)

    # Downloaded once, into a directory both replicas share.
    logs = [runner.read_log(h) for h in (first, second)]
    assert sum(b"[launcher] downloaded" in log for log in logs) == 1
    local_dir = served.models_dir / f"{repo.replace('/', '--')}-{commit}"
    assert (local_dir / "model.safetensors").stat().st_size == (tiny_chat_model() / "model.safetensors").stat().st_size
    assert [p.name for p in served.models_dir.iterdir() if ".partial-" in p.name] == []

    answers = []
    for handle in (first, second):
        client = OpenAI(base_url=f"{handle.url}/v1", api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list().data] == [str(local_dir)]
        chat = client.chat.completions.create(model=str(local_dir), messages=MESSAGES, max_tokens=8)
        assert chat.usage is not None and chat.usage.completion_tokens == 8
        assert chat.choices[0].finish_reason == "length"
        stream = client.chat.completions.create(model=str(local_dir), messages=MESSAGES, max_tokens=8, stream=True)
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert streamed == chat.choices[0].message.content  # greedy: the same words either way
        answers.append(streamed)
    assert answers[0] and answers[0] == answers[1]

    # The adapter, merged on its base by the launcher, is a model of its own that answers otherwise.
    assert b"[launcher] merged the adapter into its base model" in runner.read_log(merged)
    adapter_dir = served.models_dir / f"{adapter_repo.replace('/', '--')}-{adapter_commit}"
    assert (adapter_dir / "model.safetensors").is_file() and not (adapter_dir / "adapter_config.json").exists()
    client = OpenAI(base_url=f"{merged.url}/v1", api_key="unused", max_retries=0)
    chat = client.chat.completions.create(model=str(adapter_dir), messages=MESSAGES, max_tokens=8)
    assert chat.choices[0].message.content and chat.choices[0].message.content != answers[0]


def test_broken_model_makes_the_replica_exit_with_the_engines_error(served: Served) -> None:
    repo, commit = push(served, broken_chat_model(), "broken")
    handle = served.runner.start(replica(served, repo, commit))

    def ended() -> bool:
        return served.runner.status(handle).state is ProcessState.EXITED

    wait_until(ended, "the broken replica to exit", timeout=STARTUP, poll=0.2)
    assert served.runner.status(handle).exit_code not in (0, None)
    assert b"is not a multiple of the number of attention heads" in served.runner.read_log(handle)


def test_launcher_without_read_access_exits_saying_so(served: Served) -> None:
    repo, commit = push(served, tiny_chat_model(), "secret")
    _, stranger = served.hub.user("stranger")
    handle = served.runner.start(replica(served, repo, commit, token=stranger))

    wait_until(lambda: served.runner.status(handle).state is ProcessState.EXITED, "the launcher to give up", timeout=60)
    assert served.runner.status(handle).exit_code == 2
    assert f"could not download {repo}@{commit}".encode() in served.runner.read_log(handle)
    assert not (served.models_dir / f"{repo.replace('/', '--')}-{commit}").exists()
