"""Spaces' records through the hub's API, in process and on both databases: what a push makes of a
space (its sdk, app file, notes, requirements refused before pip sees them), its settings, secrets and
variables (encrypted at rest, never answered), stages through pause and run, and who may see what
(others get 404 on every route). The application runs without its background loops, so nothing is
built or started here: tests/e2e/test_spaces_lifecycle.py runs apps."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from csghub.app import create_app
from csghub.config import load_settings
from csghub.db.models import ComputeInstance, SpaceEnv
from csghub.runtime import environments
from csghub.runtime.base import Environment
from csghub.runtime.frameworks import BUILTIN
from csghub.services.compute import frameworks, layers
from csghub.services.context import Hub
from csghub.services.identity import accounts, tokens
from csghub.services.spaces import settings as space_settings
from csghub.wiring import build_hub
from tests.conftest import fresh_database_url

SECRET = "s3cr3t-value-for-the-app-only"
INDEX = "<!doctype html><title>hello</title><p>static hello</p>\n"
GRADIO_APP = "import gradio as gr\n\ngr.Interface(lambda s: s[::-1], 'text', 'text').launch()\n"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Hub:
    # One hub for the module (its migrations are most of a test's time); tests keep apart by repository.
    overrides: dict[str, Any] = {"data_dir": tmp_path_factory.mktemp("spaces") / "data"}
    if fresh_database_url():
        overrides["database_url"] = fresh_database_url()
    hub = build_hub(load_settings({}, None, overrides))
    frameworks.sync_built(hub)  # as a starting hub does: the built-in frameworks' records
    return hub


def _client(hub: Hub, name: str, *, token: bool = True) -> TestClient:
    accounts.create_user(hub, name, email=f"{name}@example.com", password="")
    headers = {"Authorization": f"Bearer {tokens.create_token(hub, name, scope='write')[0]}"} if token else {}
    # Not entered as a context manager: the application's startup (and so its background loops) never runs.
    return TestClient(create_app(hub.settings, hub), headers=headers)


def _push(client: TestClient, repo: str, files: dict[str, str]) -> None:
    lines: list[dict[str, Any]] = [{"key": "header", "value": {"summary": "files"}}]
    for path, text in files.items():
        content = base64.b64encode(text.encode()).decode()
        lines.append({"key": "file", "value": {"path": path, "content": content, "encoding": "base64"}})
    pushed = client.post(f"/api/spaces/{repo}/commit/main", content="".join(json.dumps(x) + "\n" for x in lines))
    assert pushed.status_code == 200, pushed.text


def _create(client: TestClient, name: str, sdk: str | None, *, private: bool = False) -> None:
    body: dict[str, Any] = {"name": name, "type": "space", "private": private}
    if sdk is not None:
        body["sdk"] = sdk
    made = client.post("/api/repos/create", json=body)
    assert made.status_code == 200, made.text


def _status(client: TestClient, repo: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/spaces/{repo}/status")
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


@pytest.fixture(scope="module")
def alice(hub: Hub) -> TestClient:
    return _client(hub, "alice")


@pytest.fixture(scope="module")
def bob(hub: Hub) -> TestClient:
    return _client(hub, "bob")


def test_a_static_space_runs_from_its_push_with_no_process(alice: TestClient) -> None:
    _create(alice, "site", "static")
    first = _status(alice, "alice/site")
    assert (first["stage"], first["hf_stage"], first["sdk"]) == ("build-failed", "NO_APP_FILE", "static")
    assert "index.html" in first["reason"]
    readme = alice.get("/spaces/alice/site/resolve/main/README.md")
    assert "sdk: static" in readme.text
    _push(alice, "alice/site", {"index.html": INDEX})
    head = alice.get("/api/spaces/alice/site").json()
    status = _status(alice, "alice/site")
    assert (status["stage"], status["static"], status["path"]) == ("running", True, "/apps/alice/site/")
    assert status["commit"] == head["sha"]
    assert head["runtime"]["stage"] == "RUNNING" and head["sdk"] == "static"
    assert alice.get("/api/spaces/alice/site/runtime").json()["stage"] == "RUNNING"


def test_csghubs_create_route_with_an_sdk_makes_a_space_that_runs(alice: TestClient) -> None:
    made = alice.post("/api/v1/spaces", json={"name": "csg-site", "sdk": "static", "license": "mit"})
    assert made.status_code == 200, made.text
    readme = alice.get("/spaces/alice/csg-site/resolve/main/README.md").text
    assert "sdk: static" in readme and "license: mit" in readme
    _push(alice, "alice/csg-site", {"index.html": INDEX})
    assert _status(alice, "alice/csg-site")["stage"] == "running"
    refused = alice.post("/api/v1/spaces", json={"name": "csg-bad", "sdk": "flask"})
    assert refused.status_code == 400 and "Invalid sdk 'flask'" in refused.json()["error"]


def test_a_space_without_an_sdk_is_a_plain_repository(alice: TestClient) -> None:
    _create(alice, "plain", None)
    status = _status(alice, "alice/plain")
    assert (status["stage"], status["sdk"], status["path"]) == ("no-app", "", "")
    assert "no sdk" in status["reason"]
    refused = alice.post("/api/v1/spaces/alice/plain/run")
    assert refused.status_code == 409 and "no sdk" in refused.json()["error"]
    _push(alice, "alice/plain", {"README.md": "---\nsdk: docker\n---\n", "Dockerfile": "FROM scratch\n"})
    assert "docker" in _status(alice, "alice/plain")["reason"]


def test_a_gradio_push_records_what_it_runs_and_the_notes_of_what_it_cannot_honour(alice: TestClient) -> None:
    _create(alice, "demo", "gradio")
    card = "---\nsdk: gradio\nsdk_version: 0.0.1\npython_version: '3.9'\nmodels: [alice/tiny, not a repo]\n---\n"
    _push(alice, "alice/demo", {"README.md": card, "app.py": GRADIO_APP, "requirements.txt": "# none\nsix\n"})
    status = _status(alice, "alice/demo")
    assert (status["stage"], status["app_file"], status["requirements"]) == ("building", "app.py", ["six"])
    assert status["models"] == ["alice/tiny"]
    notes = " ".join(status["notes"])
    assert "sdk_version 0.0.1" in notes and "python_version 3.9" in notes and "'not a repo'" in notes
    assert status["hardware"] == "cpu-1" and status["sleep_seconds"] == 48 * 3600


def test_requirements_pip_must_never_see_end_in_build_failed_naming_the_line(alice: TestClient) -> None:
    _create(alice, "bad", "gradio")
    _push(alice, "alice/bad", {"app.py": GRADIO_APP, "requirements.txt": "--index-url http://example.com/\n"})
    status = _status(alice, "alice/bad")
    assert (status["stage"], status["hf_stage"]) == ("build-failed", "CONFIG_ERROR")
    assert "--index-url" in status["reason"]
    runtime = alice.get("/api/spaces/alice/bad/runtime").json()
    assert runtime["stage"] == "CONFIG_ERROR" and "--index-url" in runtime["errorMessage"]


def test_secrets_are_encrypted_at_rest_write_only_and_reach_the_launch_environment(hub: Hub, alice: TestClient) -> None:
    _create(alice, "sec", "static")
    added = alice.post("/api/spaces/alice/sec/secrets", json={"key": "API_KEY", "value": SECRET, "description": "x"})
    assert added.status_code == 200, added.text
    alice.post("/api/spaces/alice/sec/variables", json={"key": "GREETING", "value": "hello"})
    answers = [
        alice.get("/api/spaces/alice/sec/secrets"),
        alice.get("/api/v1/spaces/alice/sec/secrets"),
        alice.get("/api/spaces/alice/sec/variables"),
        alice.get("/api/v1/spaces/alice/sec/status"),
        alice.get("/api/spaces/alice/sec"),
        added,
    ]
    assert all(SECRET not in a.text for a in answers)
    assert answers[0].json()["API_KEY"]["description"] == "x" and "updatedAt" in answers[0].json()["API_KEY"]
    assert answers[2].json()["GREETING"]["value"] == "hello"
    with hub.db() as session:
        stored = session.scalar(select(SpaceEnv.value).where(SpaceEnv.name == "API_KEY"))
        instance_id = session.scalar(
            select(ComputeInstance.id).where(ComputeInstance.kind == "space", ComputeInstance.name == "sec")
        )
    assert stored is not None and SECRET not in stored and stored.startswith("v1:")
    assert instance_id is not None
    env = space_settings.launch_env(hub, instance_id)
    assert (env["API_KEY"], env["GREETING"], env["SPACE_ID"]) == (SECRET, "hello", "alice/sec")
    assert "HF_TOKEN" in env and "CSGHUB_SPACE_TOKEN_ALLOWED" not in env
    deleted = alice.request("DELETE", "/api/spaces/alice/sec/secrets", json={"key": "API_KEY"})
    assert deleted.status_code == 200 and "API_KEY" not in deleted.json()
    assert "API_KEY" not in space_settings.launch_env(hub, instance_id)


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [("HF_TOKEN", "x", 400), ("CSGHUB_X", "x", 400), ("lower", "x", 400), ("9X", "x", 400), ("BIG", "x" * 70000, 413)],
)
def test_secret_names_and_values_are_bounded(alice: TestClient, key: str, value: str, status: int) -> None:
    if alice.get("/api/spaces/alice/names").status_code == 404:
        _create(alice, "names", "static")
    answer = alice.post("/api/spaces/alice/names/secrets", json={"key": key, "value": value})
    assert answer.status_code == status, answer.text


def test_settings_sleep_time_hardware_token_and_pause_then_run(hub: Hub, alice: TestClient) -> None:
    _create(alice, "set", "static")
    _push(alice, "alice/set", {"index.html": INDEX})
    slept = alice.post("/api/spaces/alice/set/hardware", json={"flavor": "cpu-2"})
    assert slept.status_code == 200 and slept.json()["hardware"]["requested"] == "cpu-2"
    unknown = alice.post("/api/spaces/alice/set/hardware", json={"flavor": "a100-large"})
    assert unknown.status_code == 400 and "cpu-1" in unknown.json()["error"]
    changed = alice.put("/api/v1/spaces/alice/set/settings", json={"allow_token": True})
    assert changed.json()["data"]["allow_token"] is True
    paused = alice.post("/api/spaces/alice/set/pause")
    assert paused.json()["stage"] == "PAUSED" and _status(alice, "alice/set")["stage"] == "paused"
    _push(alice, "alice/set", {"index.html": INDEX + "<p>2</p>"})  # a push leaves a paused space paused
    assert _status(alice, "alice/set")["stage"] == "paused"
    ran = alice.post("/api/v1/spaces/alice/set/run")
    assert ran.json()["data"]["stage"] == "running"
    stopped = alice.post("/api/v1/spaces/alice/set/stop")
    assert stopped.json()["data"]["stage"] == "stopped"


def test_a_private_space_is_not_found_for_others_on_every_route(hub: Hub, alice: TestClient, bob: TestClient) -> None:
    _create(alice, "hidden", "static", private=True)
    routes = [
        ("GET", "/api/v1/spaces/alice/hidden/status", None),
        ("POST", "/api/v1/spaces/alice/hidden/run", None),
        ("POST", "/api/v1/spaces/alice/hidden/stop", None),
        ("POST", "/api/v1/spaces/alice/hidden/wakeup", None),
        ("GET", "/api/v1/spaces/alice/hidden/logs?follow=false", None),
        ("PUT", "/api/v1/spaces/alice/hidden/settings", {"sleep_seconds": 5}),
        ("GET", "/api/v1/spaces/alice/hidden/secrets", None),
        ("POST", "/api/v1/spaces/alice/hidden/variables", {"key": "A", "value": "b"}),
        ("GET", "/api/spaces/alice/hidden/runtime", None),
        ("POST", "/api/spaces/alice/hidden/restart", None),
        ("POST", "/api/spaces/alice/hidden/pause", None),
        ("POST", "/api/spaces/alice/hidden/sleeptime", {"seconds": 5}),
        ("POST", "/api/spaces/alice/hidden/hardware", {"flavor": "cpu-1"}),
        ("GET", "/api/spaces/alice/hidden/secrets", None),
        ("POST", "/api/spaces/alice/hidden/secrets", {"key": "S", "value": "b"}),
        ("DELETE", "/api/spaces/alice/hidden/variables", {"key": "A"}),
        ("GET", "/api/spaces/alice/hidden", None),
    ]
    for method, path, body in routes:
        answer = bob.request(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
        assert alice.request(method, path, json=body).status_code != 404, (method, path)


def test_readers_see_the_status_of_a_public_space_but_not_its_settings(alice: TestClient, bob: TestClient) -> None:
    _create(alice, "open", "static")
    assert _status(bob, "alice/open")["sdk"] == "static"
    assert bob.get("/api/spaces/alice/open/runtime").json()["stage"] in ("NO_APP_FILE", "RUNNING")
    for method, path in (("GET", "/api/spaces/alice/open/secrets"), ("POST", "/api/spaces/alice/open/pause")):
        assert bob.request(method, path).status_code == 403, path


def test_the_read_token_reads_the_declared_models_only_when_the_owners_allow_it(
    hub: Hub, alice: TestClient, bob: TestClient
) -> None:
    for model in ("tiny", "other"):
        made = alice.post("/api/repos/create", json={"name": model, "type": "model", "private": True})
        assert made.status_code == 200, made.text
    _create(alice, "reader", "static")
    _push(alice, "alice/reader", {"README.md": "---\nsdk: static\nmodels: [alice/tiny]\n---\n", "index.html": INDEX})
    with hub.db() as session:
        found = session.scalar(
            select(ComputeInstance.id).where(ComputeInstance.kind == "space", ComputeInstance.name == "reader")
        )
    assert found is not None
    denied = space_settings.launch_env(hub, found)
    assert "CSGHUB_SPACE_TOKEN_ALLOWED" not in denied
    assert bob.get("/api/models/alice/tiny", headers=_bearer(denied)).status_code == 404
    assert alice.put("/api/v1/spaces/alice/reader/settings", json={"allow_token": True}).status_code == 200
    env = space_settings.launch_env(hub, found)
    assert env["CSGHUB_SPACE_TOKEN_ALLOWED"] == "1"
    assert bob.get("/api/models/alice/tiny", headers=_bearer(env)).json()["id"] == "alice/tiny"
    assert bob.get("/api/models/alice/other", headers=_bearer(env)).status_code == 404
    assert bob.post("/api/repos/create", json={"name": "x", "type": "model"}, headers=_bearer(env)).status_code in (
        401,
        403,
    )


def _bearer(env: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {env['HF_TOKEN']}"}


def test_the_sweep_removes_unused_requirements_layers_but_never_a_built_in_frameworks(hub: Hub) -> None:
    # Notebooks' and the SDKs' environments are layers over transformers too: idle for long, they stay.
    runtimes = hub.settings.runtimes_path
    built_in = [f.environment for f in BUILTIN if f.base is not None]
    assert {e.name for e in built_in} == {"jupyterlab", "gradio", "streamlit"}
    orphan = Environment("gradio-requirements", "1", ("python-slugify",), base=built_in[0])
    long_ago = 1_000_000_000
    for environment in (*built_in, orphan):
        ready = environments.env_dir(runtimes, environment) / environments.READY
        ready.parent.mkdir(parents=True)
        ready.write_text(json.dumps({"key": environment.key, "base": "transformers"}))
        os.utime(ready, (long_ago, long_ago))

    assert layers.collect_unused(hub) == [orphan.key]
    assert all(environments.is_built(runtimes, e) for e in built_in)
