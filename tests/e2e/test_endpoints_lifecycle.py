"""An inference endpoint's whole life on a live hub with the local runner: the tiny chat model pushed to
the hub, deployed with two replicas of `transformers serve` (weights fetched from the hub itself), chat
through each replica with the OpenAI SDK, a killed replica restarted while the other answers, the
endpoint re-adopted across a hub restart, a broken model failing with the engine's error, private
endpoints invisible to others, then stop and delete leaving no process and no file behind.

One hub and one deployed endpoint for the module; its tests run in order (the last ones stop it)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
import pytest
from huggingface_hub import HfApi
from openai import OpenAI
from sqlalchemy import select

from csghub.cli.compute import CONSOLE
from csghub.core.errors import Conflict, InvalidArgument, NotFound
from csghub.core.names import RepoId
from csghub.db.models import ComputeReplica, ComputeUsage
from csghub.services.compute import endpoints, frameworks
from csghub.services.compute.endpoints import EndpointSpec, EndpointView
from csghub.services.compute.frameworks import handle_of
from csghub.services.identity import tokens
from csghub.services.permissions import ANONYMOUS, Actor
from tests.conftest import start_hub
from tests.support.live import LiveHub, kill_replicas_left_in
from tests.support.tiny_models import broken_chat_model, tiny_chat_adapter, tiny_chat_model
from tests.support.waiting import wait_until

pytestmark = pytest.mark.engine_bound  # scripts/test runs it on SQLite only (pyproject.toml)

# Bounds, not waits: a loaded 2-core CI machine starts `transformers serve` in 5-10 s per replica.
DEPLOY_TIMEOUT = 240.0
PROMPT = [{"role": "user", "content": "Hi"}]


@dataclass
class Deployed:
    live: LiveHub
    owner: Actor
    other: Actor
    endpoint: EndpointView
    broken_repo: RepoId


def _actor(live: LiveHub, token: str) -> Actor:
    return tokens.actor_from_token(live.hub, token)[0]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    model = tiny_chat_model()  # also builds the transformers environment, once per CI run
    # With the shared runtimes folder. pip without an index: a framework of unknown packages fails fast.
    live = start_hub(tmp_path_factory.mktemp("endpoints") / "data", {"PIP_NO_INDEX": "1"})
    try:
        name, token = live.user("owner")
        _, other_token = live.user("other")
        hf = HfApi(endpoint=live.url, token=token)
        for repo, folder in ((f"{name}/tiny-chat", model), (f"{name}/broken-chat", broken_chat_model())):
            hf.create_repo(repo, private=True)
            hf.upload_folder(repo_id=repo, folder_path=folder, commit_message="the tiny model")
        lora = f"{name}/tiny-lora"
        hf.create_repo(lora, private=True)
        hf.upload_folder(repo_id=lora, folder_path=tiny_chat_adapter(), commit_message="a LoRA")
        card = f"---\nlibrary_name: peft\npipeline_tag: text-generation\nbase_model: {name}/tiny-chat\n---\n"
        hf.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=lora)
        owner = _actor(live, token)
        spec = EndpointSpec(name="chat", min_replicas=2, max_replicas=2, visibility="private")
        view = endpoints.create_endpoint(live.hub, owner, RepoId(name, "tiny-chat"), spec)
        yield Deployed(live, owner, _actor(live, other_token), view, RepoId(name, "broken-chat"))
    finally:
        live.stop()
        kill_replicas_left_in(live.data_dir)


def _state(d: Deployed, endpoint_id: int | None = None) -> EndpointView:
    return endpoints.get_endpoint(d.live.hub, d.owner, endpoint_id or d.endpoint.id)


def _running(d: Deployed) -> bool:
    view = _state(d)
    assert view.state not in ("failed", "stopped"), (view.state, view.reason, _events(d))
    return view.state == "running" and sum(r.state == "healthy" for r in view.replicas) == 2


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _events(d: Deployed, endpoint_id: int | None = None) -> list[str]:
    return [e.message for e in endpoints.endpoint_events(d.live.hub, d.owner, endpoint_id or d.endpoint.id)]


def _pids(d: Deployed) -> dict[int, int]:
    """Replica index -> pid of its server, from the handles the hub keeps."""
    with d.live.hub.db() as session:
        rows = session.scalars(select(ComputeReplica).where(ComputeReplica.instance_id == d.endpoint.id)).all()
        handles = {r.index: handle_of(r.handle) for r in rows if r.state == "healthy"}
    return {index: int(h.ref.split(":")[0]) for index, h in handles.items() if h is not None}


def _route(d: Deployed, name: str = "chat") -> endpoints.Route:
    # This process keeps its own copy of routes for a second; the hub's own is dropped on every change.
    d.live.hub.compute.routes.clear()
    return endpoints.route_for(d.live.hub, d.owner, d.owner.name, name)


def _port(d: Deployed, index: int) -> int:
    return next(int(r.url.rsplit(":", 1)[1]) for r in _state(d).replicas if r.index == index and r.url)


def _chat(url: str, served_model: str, **options: object) -> str:
    client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60)
    answer = client.chat.completions.create(model=served_model, messages=PROMPT, max_tokens=8, **options)  # type: ignore[call-overload]
    assert answer.usage is not None and 0 < answer.usage.completion_tokens <= 8
    return str(answer.choices[0].message.content)


def test_endpoint_with_two_replicas_answers_chat_through_each_replica(deployed: Deployed) -> None:
    assert deployed.endpoint.state == "pending" and deployed.endpoint.framework.name == "transformers"
    wait_until(lambda: _running(deployed), "two healthy replicas", timeout=DEPLOY_TIMEOUT, poll=0.5)
    route = _route(deployed)
    assert len(route.urls) == 2 and route.public_model == f"{deployed.owner.name}/chat" and route.kind == "chat"
    answers = {_chat(url, route.served_model, temperature=0) for url in route.urls}
    assert len(answers) == 1 and answers.pop()  # the same greedy answer from both replicas
    events = _events(deployed)
    assert any("building runtime framework" in e or e == "deploying" for e in events), events
    assert sum("is ready" in e for e in events) == 2 and events[-1] == "running"


def test_streamed_answer_equals_the_whole_one(deployed: Deployed) -> None:
    route = _route(deployed)
    client = OpenAI(base_url=f"{route.urls[0]}/v1", api_key="unused", max_retries=0, timeout=60)
    whole = _chat(route.urls[0], route.served_model, temperature=0)
    chunks = client.chat.completions.create(
        model=route.served_model, messages=PROMPT, max_tokens=8, temperature=0, stream=True
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    # A byte-level tokenizer's half character at the end is dropped by the stream, kept as U+FFFD whole.
    assert streamed.replace("\ufffd", "") == whole.replace("\ufffd", "") and streamed


def test_adapter_is_served_merged_on_the_base_model_its_card_names(deployed: Deployed) -> None:
    hub, owner = deployed.live.hub, deployed.owner
    adapter = RepoId(owner.name, "tiny-lora")
    # What fits an adapter is what fits its base model.
    assert [f.name for f in frameworks.frameworks_for_model(hub, owner, adapter, None)] == ["transformers"]
    view = endpoints.create_endpoint(hub, owner, adapter, EndpointSpec(name="lora"))

    def running() -> bool:
        now = _state(deployed, view.id)
        assert now.state != "failed", (now.reason, _events(deployed, view.id))
        return now.state == "running"

    wait_until(running, "the adapter endpoint running", timeout=DEPLOY_TIMEOUT, poll=0.5)
    lora, base = _route(deployed, "lora"), _route(deployed)
    assert _chat(lora.urls[0], lora.served_model, temperature=0) != _chat(
        base.urls[0], base.served_model, temperature=0
    )
    assert b"merged the adapter into its base model" in endpoints.read_replica_log(hub, owner, view.id, 0)
    endpoints.delete_endpoint(hub, owner, view.id)


def test_private_endpoint_is_invisible_to_anonymous_and_other_users(deployed: Deployed) -> None:
    hub, owner = deployed.live.hub, deployed.owner.name
    for stranger in (ANONYMOUS, deployed.other):
        with pytest.raises(NotFound):
            endpoints.get_endpoint(hub, stranger, deployed.endpoint.id)
        with pytest.raises(NotFound):
            endpoints.route_for(hub, stranger, owner, "chat")
        with pytest.raises(NotFound):
            endpoints.endpoint_events(hub, stranger, deployed.endpoint.id)
        with pytest.raises(NotFound):
            endpoints.read_replica_log(hub, stranger, deployed.endpoint.id, 0)
        assert endpoints.list_endpoints(hub, stranger, owner=owner) == []
    assert [e.name for e in endpoints.list_endpoints(hub, deployed.owner, owner=owner)] == ["chat"]


def test_bad_requests_get_clear_errors(deployed: Deployed) -> None:
    hub, owner = deployed.live.hub, deployed.owner
    model = RepoId(owner.name, "tiny-chat")
    with pytest.raises(Conflict):
        endpoints.create_endpoint(hub, owner, model, EndpointSpec(name="CHAT"))
    with pytest.raises(InvalidArgument, match="not an enabled tier"):
        endpoints.create_endpoint(hub, owner, model, EndpointSpec(name="other", tier_id=999))
    with pytest.raises(InvalidArgument, match="'vllm' needs a GPU tier"):
        endpoints.create_endpoint(hub, owner, model, EndpointSpec(name="other", framework_id=3))
    with pytest.raises(InvalidArgument, match="'embeddings' does not fit this model"):
        endpoints.create_endpoint(hub, owner, model, EndpointSpec(name="other", framework_id=2))
    with pytest.raises(InvalidArgument, match="1 <= min_replicas"):
        endpoints.create_endpoint(hub, owner, model, EndpointSpec(name="other", min_replicas=6, max_replicas=6))
    with pytest.raises(NotFound):  # another user's private model reads as missing
        endpoints.create_endpoint(hub, deployed.other, model, EndpointSpec(name="mine"))


def test_replica_log_shows_the_download_from_the_hub(deployed: Deployed) -> None:
    log = endpoints.read_replica_log(deployed.live.hub, deployed.owner, deployed.endpoint.id, 0)
    # The first replica downloads; the other waits for it (hub_fetch.prepare_once) or finds it done.
    assert b"downloading" in log or b"downloaded by another worker" in log or b"already in" in log, log[-2000:]
    assert deployed.live.url.encode() in log or b"already in" in log or b"another worker" in log


def test_killed_replica_comes_back_while_the_other_answers(deployed: Deployed) -> None:
    before = _pids(deployed)
    route = _route(deployed)
    survivor = next(u for u in route.urls if u.endswith(f":{_port(deployed, 1)}"))
    os.kill(before[0], signal.SIGKILL)
    assert _chat(survivor, route.served_model)  # the other replica answers meanwhile
    wait_until(
        lambda: any("replica 0 exited" in e for e in _events(deployed)), "the exit recorded", timeout=30, poll=0.2
    )
    wait_until(
        lambda: _running(deployed) and _pids(deployed).get(0) not in (None, before[0]),
        "replica 0 back",
        timeout=DEPLOY_TIMEOUT,
        poll=0.5,
    )
    after = _pids(deployed)
    assert after[1] == before[1]  # the other one was never touched
    restarted = next(r for r in _state(deployed).replicas if r.index == 0)
    assert restarted.restarts == 1
    route = _route(deployed)
    assert all(_chat(url, route.served_model) for url in route.urls)


def test_hub_restart_readopts_the_running_replicas(deployed: Deployed) -> None:
    before = _pids(deployed)
    deployed.live.stop()
    assert all(psutil.pid_exists(pid) for pid in before.values())  # replicas outlive the hub
    deployed.live.start()
    wait_until(
        lambda: sum("re-adopted after a hub restart" in e for e in _events(deployed)) == 2,
        "both replicas re-adopted",
        timeout=60,
        poll=0.2,
    )
    wait_until(lambda: _running(deployed), "running again", timeout=60, poll=0.2)
    assert _pids(deployed) == before
    route = _route(deployed)
    assert _chat(route.urls[0], route.served_model)


def test_rolling_update_replaces_replicas_only_once_the_new_ones_are_healthy(deployed: Deployed) -> None:
    hub, owner = deployed.live.hub, deployed.owner
    before = _pids(deployed)
    spec = EndpointSpec(
        name="chat", min_replicas=2, max_replicas=2, visibility="private", engine_args={"model-timeout": "900"}
    )
    updated = endpoints.update_endpoint(hub, owner, deployed.endpoint.id, spec)
    assert updated.state == "pending" and updated.engine_args == {"model-timeout": "900"}
    served: list[int] = []

    def rolled_out() -> bool:
        # Throughout, the old replicas answer until the new ones do: there is always a route.
        served.append(len(endpoints.route_for(hub, owner, owner.name, "chat").urls))
        view = _state(deployed)
        return view.state == "running" and {r.generation for r in view.replicas} == {2}

    wait_until(rolled_out, "generation 2 serving alone", timeout=DEPLOY_TIMEOUT, poll=0.5)
    assert min(served) >= 2
    after = _pids(deployed)
    assert len(after) == 2 and not set(after.values()) & set(before.values())
    assert not [pid for pid in before.values() if _alive(pid)]
    assert any("generation 2 is healthy" in e for e in _events(deployed))
    route = _route(deployed)
    assert all(_chat(url, route.served_model) for url in route.urls)


def test_broken_model_ends_failed_with_the_engine_error(deployed: Deployed) -> None:
    hub = deployed.live.hub
    view = endpoints.create_endpoint(hub, deployed.owner, deployed.broken_repo, EndpointSpec(name="broken"))
    wait_until(lambda: _state(deployed, view.id).state == "failed", "the broken endpoint failed", timeout=180, poll=0.5)
    failed = _state(deployed, view.id)
    assert "exited during start-up" in failed.reason and failed.replicas == ()
    errors = [e for e in endpoints.endpoint_events(hub, deployed.owner, view.id) if e.level == "error"]
    assert errors and any("Error" in e.message for e in errors), [e.message for e in errors]
    endpoints.delete_endpoint(hub, deployed.owner, view.id)


def test_framework_that_cannot_build_fails_its_endpoint_with_pips_error(deployed: Deployed) -> None:
    hub, owner = deployed.live.hub, deployed.owner
    package = "csghub-no-such-package==0.0.1"
    model = RepoId(owner.name, "tiny-chat")
    made = {
        tasks: frameworks.add_framework(
            hub, CONSOLE, f"no-such-{tasks[0]}", version="1", engine="transformers", tasks=tasks, packages=(package,)
        )
        for tasks in (("text-generation",), ("feature-extraction",))
    }
    offered = [f.id for f in frameworks.frameworks_for_model(hub, owner, model, None)]
    # A framework of one's own fits by the tasks it lists.
    assert made[("text-generation",)].id in offered and made[("feature-extraction",)].id not in offered
    stack = made[("text-generation",)]
    view = endpoints.create_endpoint(hub, owner, model, EndpointSpec(name="unbuildable", framework_id=stack.id))
    wait_until(lambda: _state(deployed, view.id).state == "failed", "the build failed", timeout=180, poll=0.5)
    failed = _state(deployed, view.id)
    assert "runtime framework 'no-such-text-generation' failed to build" in failed.reason and package in failed.reason
    assert "building runtime framework 'no-such-text-generation'" in _events(deployed, view.id)[1]
    assert frameworks.get_framework(hub, stack.id).state == "failed"
    log = frameworks.build_log(hub, CONSOLE, stack.id)
    assert b"pip install" in log and package.encode() in log
    # Starting it again tries the build again (and fails the same way).
    started = endpoints.start_endpoint(hub, owner, view.id)
    assert started.state == "pending" and started.framework.state == "building"
    wait_until(lambda: _state(deployed, view.id).state == "failed", "the build failed again", timeout=180, poll=0.5)
    assert sum("failed to build" in e for e in _events(deployed, view.id)) == 2
    endpoints.delete_endpoint(hub, owner, view.id)


def test_usage_is_metered_per_user_and_summed_in_the_metrics(deployed: Deployed) -> None:
    hub, endpoint_id = deployed.live.hub, deployed.endpoint.id
    for latency, ok in ((20.0, True), (40.0, True), (60.0, False)):
        endpoints.record_usage(
            hub, endpoint_id, deployed.owner, prompt_tokens=10, completion_tokens=8, latency_ms=latency, ok=ok
        )
    endpoints.record_usage(hub, endpoint_id, ANONYMOUS, prompt_tokens=1, completion_tokens=2, latency_ms=10.0, ok=True)
    metrics = endpoints.endpoint_metrics(hub, deployed.owner, endpoint_id)
    assert (metrics["requests"], metrics["errors"], metrics["completion_tokens"]) == (4, 1, 26)
    assert metrics["latency_ms_p50"] == 30.0 and metrics["tokens_per_second"] == 26 / 0.13
    with pytest.raises(NotFound):
        endpoints.endpoint_metrics(hub, deployed.other, endpoint_id)
    with deployed.live.hub.db() as session:
        per_user = dict(
            session.execute(
                select(ComputeUsage.user_id, ComputeUsage.requests).where(ComputeUsage.instance_id == endpoint_id)
            ).all()
        )
    assert per_user == {deployed.owner.user_id: 3, 0: 1}


def test_stop_ends_the_processes_and_delete_leaves_nothing(deployed: Deployed) -> None:
    hub, owner = deployed.live.hub, deployed.owner
    pids = _pids(deployed)
    stopped = endpoints.stop_endpoint(hub, owner, deployed.endpoint.id)
    assert stopped.state == "stopped" and stopped.replicas == ()
    assert not [pid for pid in pids.values() if _alive(pid)]
    endpoints.delete_endpoint(hub, owner, deployed.endpoint.id)
    with pytest.raises(NotFound):
        endpoints.get_endpoint(hub, owner, deployed.endpoint.id)
    logs = deployed.live.data_dir / "compute" / "logs"
    assert not list(logs.glob(f"endpoint-{deployed.endpoint.id}-*"))
    marker = str(deployed.live.data_dir / "compute")
    assert not [p for p in psutil.process_iter(["cmdline"]) if any(marker in a for a in p.info["cmdline"] or [])]
