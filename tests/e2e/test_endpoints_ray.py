"""The endpoint of tests/e2e/test_endpoints_lifecycle.py, deployed on a registered Ray cluster instead
of the local one: the tiny chat model pushed to a live hub, two replicas of `transformers serve` as Ray
actors (each fetching the weights from the hub), chat and streaming with the OpenAI SDK through the
hub's gateway, a killed replica restarted by the supervisor while the other (and the gateway) answers,
the hub restarted and its actors re-adopted (none twice), a rolling update answering throughout, and
a stop leaving no actor behind.

The Ray head, the hub and this test's clients share a loopback-only network namespace
(tests/support/ray_cluster.py). One hub and one endpoint for the module; its tests run in order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
import pytest
from huggingface_hub import HfApi
from openai import OpenAI
from sqlalchemy import select

from csghub.cli.compute import CONSOLE
from csghub.core.errors import Conflict
from csghub.core.names import RepoId
from csghub.db.models import ComputeReplica
from csghub.runtime.base import Handle
from csghub.runtime.ray import RayRunner, hub_namespace
from csghub.services.compute import clusters, endpoints
from csghub.services.compute.endpoints import EndpointSpec, EndpointView
from csghub.services.compute.frameworks import handle_of
from csghub.services.identity import tokens
from csghub.services.permissions import Actor
from tests.support.live import LiveHub
from tests.support.ray_cluster import RayCluster, hub_beside
from tests.support.tiny_models import tiny_chat_model
from tests.support.waiting import wait_until

# Its SQL is the same as test_endpoints_lifecycle's: scripts/test runs it on SQLite only.
pytestmark = pytest.mark.engine_bound

DEPLOY_TIMEOUT = 300.0  # a bound: two `transformers serve` on a loaded 2-core machine beside a Ray head
PROMPT = [{"role": "user", "content": "Hi"}]


@dataclass
class Deployed:
    live: LiveHub
    owner: Actor
    token: str
    endpoint: EndpointView
    cluster: RayCluster

    def gateway(self) -> OpenAI:
        """The endpoint's stable URL on the hub (transport/gateway.py), with the owner's hub token."""
        url = f"{self.live.url}/endpoints/{self.owner.name}/chat/v1"
        return OpenAI(base_url=url, api_key=self.token, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def deployed(ray_cluster: RayCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    model = tiny_chat_model()
    live = hub_beside(ray_cluster, tmp_path_factory.mktemp("endpoints-ray") / "data")
    try:
        name, token = live.user("owner")
        HfApi(endpoint=live.url, token=token).create_repo(f"{name}/tiny-chat", private=True)
        # In a child process: hf_xet's worker threads, once started by an earlier test module of this
        # worker, stay in the host's network namespace and cannot reach a hub inside this one; a child
        # forked from this thread starts its own inside it.
        upload = (
            "import sys; from huggingface_hub import HfApi; HfApi(endpoint=sys.argv[1], token=sys.argv[2])"
            ".upload_folder(repo_id=sys.argv[3], folder_path=sys.argv[4], commit_message='the tiny model')"
        )
        argv = [sys.executable, "-c", upload, live.url, token, f"{name}/tiny-chat", str(model)]
        subprocess.run(argv, check=True, capture_output=True, timeout=300)
        cluster = clusters.add_cluster(live.hub, CONSOLE, "ray", kind="ray", address=ray_cluster.dashboard_url)
        # Half a CPU each: a rolling update runs the new generation beside the old on the two-CPU head.
        tier = clusters.add_tier(live.hub, CONSOLE, cluster.id, "ray-cpu-half", cpus=0.5, memory_mb=1024)
        owner = tokens.actor_from_token(live.hub, token)[0]
        spec = EndpointSpec(
            name="chat", cluster_id=cluster.id, tier_id=tier.id, min_replicas=2, max_replicas=2, visibility="private"
        )
        view = endpoints.create_endpoint(live.hub, owner, RepoId(name, "tiny-chat"), spec)
        yield Deployed(live, owner, token, view, ray_cluster)
    finally:
        live.stop()


def _state(d: Deployed) -> EndpointView:
    return endpoints.get_endpoint(d.live.hub, d.owner, d.endpoint.id)


def _events(d: Deployed) -> list[str]:
    return [e.message for e in endpoints.endpoint_events(d.live.hub, d.owner, d.endpoint.id)]


def _running(d: Deployed) -> bool:
    view = _state(d)
    assert view.state not in ("failed", "stopped"), (view.state, view.reason, _events(d))
    return view.state == "running" and sum(r.state == "healthy" for r in view.replicas) == 2


def _handles(d: Deployed) -> dict[int, Handle]:
    with d.live.hub.db() as session:
        rows = session.scalars(select(ComputeReplica).where(ComputeReplica.instance_id == d.endpoint.id)).all()
        found = {r.index: handle_of(r.handle) for r in rows if r.state == "healthy"}
    return {index: handle for index, handle in found.items() if handle is not None}


def _server_pid(port: int) -> int:
    """The `transformers serve` listening on `port` (a child of its replica's actor)."""
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "serve" in " ".join(cmdline) and str(port) in cmdline:
            return int(process.pid)
    raise AssertionError(f"no server process on port {port}")


def _chat(url: str, served_model: str, **options: object) -> str:
    client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60)
    answer = client.chat.completions.create(model=served_model, messages=PROMPT, max_tokens=8, **options)  # type: ignore[call-overload]
    assert answer.usage is not None and 0 < answer.usage.completion_tokens <= 8
    return str(answer.choices[0].message.content)


def test_ray_endpoint_runs_two_replicas_as_actors_and_answers_chat(deployed: Deployed) -> None:
    wait_until(lambda: _running(deployed), "two healthy replicas on Ray", timeout=DEPLOY_TIMEOUT, poll=0.5)
    handles = _handles(deployed)
    assert sorted(handles) == [0, 1] and {h.runner for h in handles.values()} == {"ray"}
    assert all(h.ref.startswith("actor:svc-") and h.host == "127.0.0.1" for h in handles.values())
    route = endpoints.route_for(deployed.live.hub, deployed.owner, deployed.owner.name, "chat")
    assert sorted(route.urls) == sorted(h.url for h in handles.values())
    answers = {_chat(url, route.served_model, temperature=0) for url in route.urls}
    assert len(answers) == 1 and answers.pop()  # the same greedy answer from both replicas
    public = f"{deployed.owner.name}/chat"
    assert [m.id for m in deployed.gateway().models.list()] == [public]
    through = deployed.gateway().chat.completions.create(model=public, messages=PROMPT, max_tokens=8, temperature=0)
    assert through.choices[0].message.content == _chat(route.urls[0], route.served_model, temperature=0)


def test_ray_endpoint_streams_the_same_answer_through_the_gateway(deployed: Deployed) -> None:
    route = endpoints.route_for(deployed.live.hub, deployed.owner, deployed.owner.name, "chat")
    whole = _chat(route.urls[0], route.served_model, temperature=0)
    chunks = deployed.gateway().chat.completions.create(
        model=f"{deployed.owner.name}/chat", messages=PROMPT, max_tokens=8, temperature=0, stream=True
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed.replace("\ufffd", "") == whole.replace("\ufffd", "") and streamed


def test_ray_killed_replica_comes_back_while_the_other_answers(deployed: Deployed) -> None:
    before = _handles(deployed)
    route = endpoints.route_for(deployed.live.hub, deployed.owner, deployed.owner.name, "chat")
    os.kill(_server_pid(before[0].port), signal.SIGKILL)
    assert _chat(before[1].url, route.served_model)  # the other replica answers meanwhile
    for _ in range(4):  # and the gateway keeps answering: it retries a dead replica on the other one
        answer = deployed.gateway().chat.completions.create(
            model=f"{deployed.owner.name}/chat", messages=PROMPT, max_tokens=4
        )
        assert answer.choices[0].message.content
    wait_until(lambda: any("replica 0 exited" in e for e in _events(deployed)), "the exit seen", timeout=30, poll=0.2)
    wait_until(
        lambda: _running(deployed) and _handles(deployed).get(0, before[0]).ref != before[0].ref,
        "replica 0 back on Ray",
        timeout=DEPLOY_TIMEOUT,
        poll=0.5,
    )
    after = _handles(deployed)
    assert after[1] == before[1]  # the other one was never touched
    route = endpoints.route_for(deployed.live.hub, deployed.owner, deployed.owner.name, "chat")
    assert all(_chat(url, route.served_model) for url in route.urls)
    assert deployed.gateway().chat.completions.create(model="any", messages=PROMPT, max_tokens=4).choices


def _actors(d: Deployed) -> list[str]:
    """The keys of every actor the hub's namespace runs on the cluster."""
    runner = RayRunner(d.cluster.gcs_address, namespace=hub_namespace(d.live.hub.settings.secret_key))
    try:
        return sorted(h.key for h in runner.running())
    finally:
        runner.close()


def _ask(d: Deployed) -> str:
    answer = d.gateway().chat.completions.create(model="chat", messages=PROMPT, max_tokens=4)
    assert answer.choices[0].message.content
    return answer.choices[0].message.content


def test_ray_hub_restart_readopts_the_actors_without_duplicates(deployed: Deployed) -> None:
    wait_until(lambda: _running(deployed), "two healthy replicas on Ray", timeout=DEPLOY_TIMEOUT, poll=0.5)
    before = _handles(deployed)
    assert _actors(deployed) == sorted(h.key for h in before.values())
    deployed.live.stop()
    assert _actors(deployed) == sorted(h.key for h in before.values())  # actors outlive the hub
    deployed.live.start()
    wait_until(
        lambda: sum("re-adopted after a hub restart" in e for e in _events(deployed)) == 2,
        "both actors re-adopted",
        timeout=60,
        poll=0.2,
    )
    wait_until(lambda: _running(deployed), "running again", timeout=60, poll=0.2)
    assert _handles(deployed) == before
    assert _actors(deployed) == sorted(h.key for h in before.values())  # none started twice
    assert _ask(deployed)


def test_ray_rolling_update_keeps_answering_and_replaces_the_actors(deployed: Deployed) -> None:
    before = _handles(deployed)
    view = _state(deployed)
    spec = EndpointSpec(
        name="chat",
        cluster_id=view.cluster.id,
        tier_id=view.tier.id,
        min_replicas=2,
        max_replicas=2,
        visibility="private",
        engine_args={"model-timeout": "900"},
    )
    endpoints.update_endpoint(deployed.live.hub, deployed.owner, deployed.endpoint.id, spec)
    answered = 0

    def rolled_out() -> bool:
        nonlocal answered
        assert _ask(deployed)  # every request during the update is answered
        answered += 1
        now = _state(deployed)
        assert now.state != "failed", (now.reason, _events(deployed))
        return now.state == "running" and {r.generation for r in now.replicas} == {2}

    wait_until(rolled_out, "generation 2 serving alone on Ray", timeout=DEPLOY_TIMEOUT)
    after = _handles(deployed)
    assert answered >= 3 and len(after) == 2
    assert not {h.ref for h in after.values()} & {h.ref for h in before.values()}
    assert _actors(deployed) == sorted(h.key for h in after.values())  # the old actors are gone
    assert any("generation 2 is healthy" in e for e in _events(deployed))


def test_ray_endpoint_moves_to_another_cluster_only_once_stopped(deployed: Deployed) -> None:
    view, before = _state(deployed), _handles(deployed)
    local = next(c for c in clusters.list_clusters(deployed.live.hub, deployed.owner) if c.kind == "local")
    spec = EndpointSpec(name="chat", cluster_id=local.id, min_replicas=2, max_replicas=2, visibility="private")
    with pytest.raises(Conflict, match="Stop the endpoint before moving it"):
        endpoints.update_endpoint(deployed.live.hub, deployed.owner, deployed.endpoint.id, spec)
    assert _state(deployed).cluster.id == view.cluster.id and _handles(deployed) == before


def test_ray_endpoint_stop_leaves_no_actor(deployed: Deployed) -> None:
    stopped = endpoints.stop_endpoint(deployed.live.hub, deployed.owner, deployed.endpoint.id)
    assert stopped.state == "stopped" and stopped.replicas == ()
    assert _actors(deployed) == []
