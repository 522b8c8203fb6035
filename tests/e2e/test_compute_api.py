"""CSGHub's deploy API on a live hub, as csghub-sdk and CSGHub's own habits use it: its refusals of bad
settings and of strangers (4xx, CSGHub's envelope, private means 404); clusters, resource tiers and the
frameworks that fit a model; a deploy made, listed, changed, followed in its status and its replica's
log (server-sent events), stopped and started again with `csghub-cli inference` run as a user runs
it, and deleted.

One hub and one deployed endpoint (one replica of the tiny chat model) for the module."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi

from tests.conftest import start_hub
from tests.support.clients import api, client_env
from tests.support.live import LiveHub, kill_replicas_left_in
from tests.support.tiny_models import shared_runtimes_dir, tiny_chat_model
from tests.support.waiting import wait_until

CLI = str(Path(sys.executable).parent / "csghub-cli")
DEPLOY_TIMEOUT = 600.0  # a bound: the first run builds the runtime environment


@dataclass
class Hub:
    live: LiveHub
    owner: str
    token: str
    other: str
    other_token: str
    model: str  # "owner/tiny-chat"
    deploy_id: int

    def run(self, suffix: str = "") -> str:
        return f"/api/v1/models/{self.model}/run{suffix}"

    def get(self, path: str, token: str | None = "owner", **params: str) -> httpx.Response:
        with api(self.live.url, self._token(token)) as client:
            return client.get(path, params=params)

    def send(self, method: str, path: str, body: Any = None, token: str | None = "owner") -> httpx.Response:
        with api(self.live.url, self._token(token)) as client:
            return client.request(method, path, json=body)

    def _token(self, who: str | None) -> str | None:
        return {"owner": self.token, "other": self.other_token}.get(who) if who else None

    def state(self) -> str:
        answer = self.get(self.run(f"/{self.deploy_id}/status"))
        assert answer.status_code == 200, answer.text
        state: str = answer.json()["data"]["state"]
        assert state != "failed", answer.text
        return state


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    chat_model = tiny_chat_model()
    data_dir = tmp_path_factory.mktemp("compute-api") / "data"
    live = start_hub(
        data_dir, {"CSGHUB_RUNTIMES_DIR": str(shared_runtimes_dir()), "CSGHUB_COMPUTE_STOP_ON_SHUTDOWN": "true"}
    )
    try:
        owner, token = live.user("dep")
        other, other_token = live.user("stranger")
        model = f"{owner}/tiny-chat"
        hf = HfApi(endpoint=live.url, token=token)
        hf.create_repo(model)
        hf.upload_folder(repo_id=model, folder_path=chat_model, commit_message="the tiny model")
        with api(live.url, token) as client:
            created = client.post(
                f"/api/v1/models/{model}/run",
                json={"deploy_name": "cli-bot", "secure_level": 2, "engine_args": '{"dtype": "float32"}'},
            )
        assert created.status_code == 200, created.text
        yield Hub(live, owner, token, other, other_token, model, created.json()["data"]["deploy_id"])
    finally:
        live.stop()
        kill_replicas_left_in(data_dir)


def _refused(answer: httpx.Response, status: int, words: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] and words in body["msg"] and body["error"] == body["msg"], body


def test_compute_api_lists_clusters_tiers_and_fitting_frameworks(hub: Hub) -> None:
    clusters = hub.get("/api/v1/cluster").json()["data"]
    assert clusters[0] == {
        "cluster_id": "1",
        "name": "local",
        "region": clusters[0]["region"],
        "zone": "",
        "provider": "local",
        "enable": True,
    }
    tiers = hub.get("/api/v1/space_resources", cluster_id="1").json()["data"]
    assert tiers and all(t["cluster_id"] == "1" and t["type"] == "cpu" and t["is_available"] for t in tiers)
    assert json.loads(tiers[0]["resources"])["memory"].endswith("Mi")
    assert hub.get("/api/v1/space_resources", cluster_id="999").json()["data"] == []
    frameworks = hub.get(f"/api/v1/models/{hub.model}/runtime_framework").json()["data"]
    assert [f["frame_name"] for f in frameworks] == ["transformers"]  # not embeddings, not vllm (no GPU)
    assert frameworks[0]["compute_type"] == "cpu" and frameworks[0]["enabled"] == 1 and frameworks[0]["type"] == 1
    # What can fine-tune it (CSGHub's deploy_type 2): LLaMA-Factory, never a choice for an endpoint.
    trainers = hub.get(f"/api/v1/models/{hub.model}/runtime_framework", deploy_type="2").json()["data"]
    assert [(f["frame_name"], f["type"], f["engine"]) for f in trainers] == [("llamafactory", 2, "llamafactory")]


def test_compute_api_refuses_bad_settings(hub: Hub) -> None:
    run = hub.run()
    cases: list[tuple[Any, int, str]] = [
        ({}, 400, "deploy_name"),
        ({"deploy_name": "x y"}, 400, "Invalid endpoint name"),
        ({"deploy_name": "big", "min_replica": 3, "max_replica": 9}, 400, "replicas"),
        ({"deploy_name": "lvl", "secure_level": 3}, 400, "secure_level"),
        ({"deploy_name": "args", "engine_args": ["--dtype"]}, 400, "engine_args"),
        ({"deploy_name": "args", "engine_args": "{not json"}, 400, "engine_args"),
        ({"deploy_name": "port", "engine_args": {"port": "1"}}, 400, "port"),
        ({"deploy_name": "envs", "env": {"HF_TOKEN": "mine"}}, 400, "HF_TOKEN"),
        ({"deploy_name": "fw", "runtime_framework_id": 999}, 400, "framework"),
        ({"deploy_name": "tier", "resource_id": "999"}, 400, "Tier"),
        ({"deploy_name": "cl", "cluster_id": "999"}, 400, "cluster"),
        ({"deploy_name": "rev", "revision": "no-such-branch"}, 404, "no-such-branch"),
        ({"deploy_name": "cli-bot"}, 409, "cli-bot"),
        ("just text", 400, "JSON object"),
    ]
    for body, status, words in cases:
        _refused(hub.send("POST", run, body), status, words)
    _refused(hub.send("POST", "/api/v1/models/nobody/nothing/run", {"deploy_name": "x"}), 404, "nobody/nothing")
    _refused(hub.send("POST", run, {"deploy_name": "anon"}, token=None), 401, "")
    # A stranger may not deploy into the owner's namespace, nor see the private model's deploys.
    _refused(hub.send("POST", run, {"deploy_name": "theirs", "owner_namespace": hub.owner}, "other"), 404, "")
    assert hub.get(run, token="other").json()["data"] == []


def test_compute_api_private_deploy_is_invisible_to_others(hub: Hub) -> None:
    one = hub.run(f"/{hub.deploy_id}")
    for token in ("other", None):
        for method, path in (
            ("GET", one),
            ("GET", one + "/status"),
            ("GET", one + "/logs/0"),
            ("PUT", one + "/stop"),
            ("PUT", one),
            ("DELETE", one),
        ):
            answer = hub.send(method, path, {} if method == "PUT" else None, token)
            assert answer.status_code in (401, 404) if token is None else answer.status_code == 404, (path, answer.text)
            assert answer.json()["msg"]
    assert hub.get(f"/api/v1/user/{hub.owner}/run/model", token="other").json() == {"msg": "OK", "data": [], "total": 0}
    # The id under another model's path is not found either, even for its owner.
    _refused(hub.get(f"/api/v1/models/{hub.owner}/other-model/run/{hub.deploy_id}"), 404, "not found")
    _refused(hub.get(hub.run(f"/{hub.deploy_id}/logs/first")), 404, "Instance")
    assert hub.get(hub.run("/2147483648")).status_code == 400


def _cli(hub: Hub, *args: str) -> str:
    home = hub.live.data_dir.parent / "cli-home"
    env = client_env(home, {"CSGHUB_DOMAIN": hub.live.url, "CSGHUB_TOKEN": hub.token})
    proc = subprocess.run([CLI, "inference", *args], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_compute_api_deploy_runs_and_shows_its_log(hub: Hub) -> None:
    wait_until(lambda: hub.state() == "running", "the deploy running", timeout=DEPLOY_TIMEOUT, poll=0.5)
    detail = hub.get(hub.run(f"/{hub.deploy_id}")).json()["data"]
    assert detail["status"] == "Running" and detail["actual_replica"] == 1 and detail["model_id"] == hub.model
    assert detail["endpoint"] == f"{hub.live.url}/endpoints/{hub.owner}/cli-bot/v1"
    assert json.loads(detail["engine_args"]) == {"dtype": "float32"} and detail["secure_level"] == 2
    status = hub.get(hub.run(f"/{hub.deploy_id}/status")).json()["data"]
    assert any("created by" in e["message"] for e in status["events"]) and status["instances"][0]["name"] == "0"
    log = hub.get(hub.run(f"/{hub.deploy_id}/logs/0"), follow="false")
    assert log.status_code == 200 and log.headers["content-type"].startswith("text/event-stream")
    events = [block for block in log.text.split("\n\n") if block]
    assert events[-1] == "event: end\ndata: "
    lines = [b.split("data: ", 1)[1] for b in events if "event: Container" in b]
    assert any("[launcher]" in line for line in lines) and any("transformers serve" in line for line in lines)
    # Resumed from an event's id, the log goes on after that line.
    first_id = next(b for b in events if b.startswith("id: ")).split("\n")[0].removeprefix("id: ")
    with api(hub.live.url, hub.token) as client:
        resumed = client.get(hub.run(f"/{hub.deploy_id}/logs/0?follow=false"), headers={"Last-Event-ID": first_id})
    # The replica goes on logging (its health checks), so the resumed log may run further than the first.
    again = [b.split("data: ", 1)[1] for b in resumed.text.split("\n\n") if "event: Container" in b]
    assert again[: len(lines) - 1] == lines[1:]


def test_compute_api_csghub_cli_lists_stops_and_starts(hub: Hub) -> None:
    listed = _cli(hub, "list", "-u", hub.owner)
    row = next(line for line in listed.splitlines() if line.startswith(str(hub.deploy_id)))
    assert row.split() == [str(hub.deploy_id), "cli-bot", hub.model, "Running"]
    stopped = _cli(hub, "stop", hub.model, str(hub.deploy_id))
    assert "'status': 'Stopped'" in stopped and "'msg': 'OK'" in stopped
    assert hub.state() == "stopped"
    answer = hub.get(hub.run(f"/{hub.deploy_id}"))
    assert answer.json()["data"]["status"] == "Stopped" and answer.json()["data"]["actual_replica"] == 0
    started = _cli(hub, "start", hub.model, str(hub.deploy_id))
    assert "'msg': 'OK'" in started and "'status': 'Stopped'" not in started
    wait_until(lambda: hub.state() == "running", "the deploy running again", timeout=DEPLOY_TIMEOUT, poll=0.5)
    assert str(hub.deploy_id) in _cli(hub, "list", "-u", hub.owner)


def test_compute_api_update_and_delete(hub: Hub) -> None:
    one = hub.run(f"/{hub.deploy_id}")
    changed = hub.send("PUT", one, {"secure_level": 1})
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert data["secure_level"] == 1 and data["deploy_name"] == "cli-bot"
    assert json.loads(data["engine_args"]) == {"dtype": "float32"}  # what the update left out stays
    # Public now: a stranger sees it (and only reads it).
    assert hub.get(one, token="other").json()["data"]["deploy_id"] == hub.deploy_id
    _refused(hub.send("PUT", one + "/stop", None, "other"), 403, "")
    listed = hub.get(f"/api/v1/user/{hub.owner}/run/model", token="other", per="1", page="1").json()
    assert listed["total"] == 1 and [d["deploy_id"] for d in listed["data"]] == [hub.deploy_id]
    assert hub.get(f"/api/v1/user/{hub.owner}/run/model", deploy_type="2").json()["data"] == []
    deleted = hub.send("DELETE", one)
    assert deleted.status_code == 200 and deleted.json() == {"msg": "OK", "data": None}
    _refused(hub.get(one), 404, "not found")
    assert hub.get(f"/api/v1/user/{hub.owner}/run/model").json()["total"] == 0
