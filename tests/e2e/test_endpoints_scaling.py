"""An endpoint between min 1 and max 2 replicas on a live hub with the local runner, called through the
hub's gateway with the OpenAI SDK: bounded concurrent load scales it to 2 ready replicas that both
answer, and it goes back to 1 once idle (the quiet period set short through its setting); rolling
updates keep every request answered, and a new generation that cannot start is rolled back while the
old replicas keep serving. Then delete leaves nothing of it on disk, and its name is free again.

One hub and one endpoint for the module; its tests run in order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from huggingface_hub import HfApi
from openai import APIStatusError, OpenAI

from csghub.core.errors import NotFound
from csghub.core.names import RepoId
from csghub.services.compute import endpoints
from csghub.services.compute.endpoints import EndpointSpec, EndpointView
from csghub.services.identity import tokens
from csghub.services.permissions import Actor
from tests.conftest import start_hub
from tests.support.live import LiveHub, kill_replicas_left_in
from tests.support.tiny_models import tiny_chat_model
from tests.support.waiting import wait_until

# Its SQL is test_endpoints_lifecycle's but for delete's one select (run on PostgreSQL once by hand):
# scripts/test runs it on SQLite only.
pytestmark = pytest.mark.engine_bound

DEPLOY_TIMEOUT = 240.0
QUIET_SECONDS = 4  # compute_scale_down_after for this hub
PROMPT = [{"role": "user", "content": "Hi"}]


@dataclass
class Deployed:
    live: LiveHub
    owner: Actor
    token: str
    endpoint: EndpointView

    def client(self) -> OpenAI:
        url = f"{self.live.url}/endpoints/{self.owner.name}/auto/v1"
        return OpenAI(base_url=url, api_key=self.token, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    model = tiny_chat_model()
    env = {"PIP_NO_INDEX": "1", "CSGHUB_COMPUTE_SCALE_DOWN_AFTER": str(QUIET_SECONDS)}
    live = start_hub(tmp_path_factory.mktemp("scaling") / "data", env)
    try:
        name, token = live.user("owner")
        hf = HfApi(endpoint=live.url, token=token)
        hf.create_repo(f"{name}/tiny-chat", private=True)
        hf.upload_folder(repo_id=f"{name}/tiny-chat", folder_path=model, commit_message="the tiny model")
        owner = tokens.actor_from_token(live.hub, token)[0]
        spec = EndpointSpec(name="auto", min_replicas=1, max_replicas=2)
        view = endpoints.create_endpoint(live.hub, owner, RepoId(name, "tiny-chat"), spec)
        yield Deployed(live, owner, token, view)
    finally:
        live.stop()
        kill_replicas_left_in(live.data_dir)


def _state(d: Deployed) -> EndpointView:
    view = endpoints.get_endpoint(d.live.hub, d.owner, d.endpoint.id)
    assert view.state != "failed", (view.reason, _events(d))
    return view


def _events(d: Deployed) -> list[str]:
    return [e.message for e in endpoints.endpoint_events(d.live.hub, d.owner, d.endpoint.id)]


def _ready(d: Deployed) -> int:
    view = _state(d)
    return sum(r.state == "healthy" for r in view.replicas) if view.state == "running" else 0


def _ask(client: OpenAI, max_tokens: int = 8) -> str:
    answer = client.chat.completions.create(model="auto", messages=PROMPT, max_tokens=max_tokens, temperature=0)
    assert answer.model.endswith("/auto") and answer.choices[0].message.content
    return answer.choices[0].message.content


def _served(d: Deployed, index: int) -> int:
    log = endpoints.read_replica_log(d.live.hub, d.owner, d.endpoint.id, index)
    return log.count(b"POST /v1/chat/completions")


def test_busy_endpoint_scales_to_max_serves_from_both_and_back_to_min_when_idle(deployed: Deployed) -> None:
    wait_until(lambda: _ready(deployed) == 1, "one ready replica", timeout=DEPLOY_TIMEOUT, poll=0.5)
    assert [r.index for r in _state(deployed).replicas] == [0]
    stop, answers = threading.Event(), []

    def load() -> None:
        client = deployed.client()
        for _ in range(300):  # bounded: at most 1200 requests in all
            if stop.is_set():
                return
            answers.append(_ask(client, max_tokens=48))

    with ThreadPoolExecutor(4) as pool:
        workers = [pool.submit(load) for _ in range(4)]
        try:
            # Scaled, and the second replica has answered some of the load.
            wait_until(
                lambda: _ready(deployed) == 2 and _served(deployed, 1) >= 3,
                "a second replica serving",
                timeout=DEPLOY_TIMEOUT,
                poll=0.5,
            )
        finally:
            stop.set()
        for worker in workers:
            worker.result()  # every request answered
    assert _served(deployed, 0) >= 3 and len(answers) >= 6
    scaled = [e for e in _events(deployed) if e.startswith("scaled to 2 replicas: ")]
    assert len(scaled) == 1 and int(scaled[0].split(": ")[1].split()[0]) >= 2, scaled
    # Idle for the quiet period: back to the minimum, the extra replica stopped.
    wait_until(lambda: [r.index for r in _state(deployed).replicas] == [0], "back to one replica", timeout=60, poll=0.5)
    assert any(e.startswith("scaled to 1 replica: no request for") for e in _events(deployed))
    assert _ask(deployed.client())


def test_rolling_update_keeps_answering_and_a_failing_one_is_rolled_back(deployed: Deployed) -> None:
    hub, owner, client = deployed.live.hub, deployed.owner, deployed.client()
    first = _state(deployed)
    spec = EndpointSpec(name="auto", min_replicas=1, max_replicas=2, engine_args={"model-timeout": "900"})
    answered = 0

    def rolled(generation: int) -> bool:
        nonlocal answered
        assert _ask(client)  # every request during the update is answered
        answered += 1
        view = _state(deployed)
        return view.state == "running" and {r.generation for r in view.replicas} == {generation}

    endpoints.update_endpoint(hub, owner, deployed.endpoint.id, spec)
    wait_until(lambda: rolled(first.replicas[0].generation + 1), "generation 2 alone", timeout=DEPLOY_TIMEOUT)
    assert answered >= 3 and any("generation 2 is healthy" in e for e in _events(deployed))

    # An engine flag that does not exist: the new replica dies at start-up (twice), the old one serves on.
    broken = EndpointSpec(name="auto", min_replicas=1, max_replicas=2, engine_args={"no-such-flag": "1"})
    endpoints.update_endpoint(hub, owner, deployed.endpoint.id, broken)

    def rolled_back() -> bool:
        nonlocal answered
        assert _ask(client)
        answered += 1
        return any("update to generation 3 failed, rolled back to generation 2" in e for e in _events(deployed))

    wait_until(rolled_back, "the failed update rolled back", timeout=DEPLOY_TIMEOUT)
    view = _state(deployed)
    assert view.state == "running" and "the last update failed" in view.reason
    assert view.engine_args == {"model-timeout": "900"} and {r.generation for r in view.replicas} == {2}
    assert sum(e.startswith("replica 0 exited during start-up") for e in _events(deployed)) == 2
    assert _ask(client)


def _status(d: Deployed) -> int:
    try:
        _ask(d.client())
    except APIStatusError as exc:
        return exc.status_code
    return 200


def _files(data_dir: Path) -> set[str]:
    compute = data_dir / "compute"
    return {str(p.relative_to(compute)) for p in compute.rglob("*")} if compute.is_dir() else set()


def test_delete_leaves_nothing_behind_and_frees_the_name(deployed: Deployed) -> None:
    hub, owner, data_dir = deployed.live.hub, deployed.owner, deployed.live.data_dir
    endpoint_id = deployed.endpoint.id
    wait_until(lambda: _ready(deployed) >= 1, "a ready replica", timeout=DEPLOY_TIMEOUT, poll=0.5)
    before = _files(data_dir)
    assert any(p.startswith("models/") for p in before) and any(
        p.startswith(f"logs/endpoint-{endpoint_id}-") for p in before
    )
    endpoints.delete_endpoint(hub, owner, endpoint_id)
    after = _files(data_dir)
    mine = f"endpoint-{endpoint_id}-"
    # Its logs, process records, working folders and downloaded weights (no other endpoint serves them).
    kept = {p for p in after if p.startswith(("logs/", "processes/", "work/", "models/"))}
    assert kept == set(), kept
    assert not [p for p in after if any(part.startswith(mine) for part in p.split("/")) or p.startswith("models/")]
    with pytest.raises(NotFound):
        endpoints.get_endpoint(hub, owner, endpoint_id)
    assert endpoints.list_endpoints(hub, owner, owner=owner.name) == []
    marker = str(data_dir / "compute")
    assert not [p for p in psutil.process_iter(["cmdline"]) if any(marker in a for a in p.info["cmdline"] or [])]
    # The gateway answers 404 once the hub's one-second route copy has gone.
    wait_until(lambda: _status(deployed) == 404, "the gateway forgetting it", timeout=10, poll=0.2)
    # The same name again: a new endpoint that answers.
    again = endpoints.create_endpoint(hub, owner, RepoId(owner.name, "tiny-chat"), EndpointSpec(name="auto"))
    deployed.endpoint = again  # SQLite may give it the same id: nothing of the old one may show
    events = _events(deployed)
    assert events[0].startswith("created by") and sum(e.startswith("created by") for e in events) == 1
    wait_until(lambda: _ready(deployed) == 1, "the new endpoint ready", timeout=DEPLOY_TIMEOUT, poll=0.5)
    assert _ask(deployed.client())
