"""A notebook's whole life on a live hub with the local runner: the tiny chat model and a small dataset
pushed to the hub, a notebook started through /api/v1/notebooks (JupyterLab on the `jupyterlab` runtime,
both repositories checked out from the hub itself), reached only through the hub's /notebooks/ door:
Jupyter's status, a kernel started over REST and code run in it over its WebSocket with Jupyter's
messaging protocol (the hub's address and a token that reads those repositories in its environment),
everyone else refused with 404, a cross-site request with the owner's cookie refused, then stop leaving
no process behind and delete leaving no file.

One hub and one notebook for the module; its tests run in order (the last ones stop and delete it)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
import websockets
from huggingface_hub import HfApi

from csghub.services.identity import sessions, tokens
from csghub.transport.app_relay import MAX_BODY
from tests.conftest import start_hub
from tests.support.live import LiveHub, kill_replicas_left_in
from tests.support.raw_http import chunk_frame, head, send_until_answered
from tests.support.tiny_models import jupyterlab_environment, tiny_chat_model
from tests.support.waiting import wait_until

pytestmark = pytest.mark.engine_bound

# Bounds, not waits: the first start builds nothing (scripts/test builds the environment), then checks
# out two small repositories and starts JupyterLab, some 10 s on a loaded 2-core machine.
START_TIMEOUT = 240.0
KERNEL_TIMEOUT = 120.0
MiB = 1024 * 1024
CSV = "question,answer\nWhat is 2+2?,4\nCapital of France?,Paris\n"


@dataclass
class Started:
    live: LiveHub
    owner: str
    token: str
    other_token: str
    notebook: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.notebook["url"])

    def api(self, token: str | None = None) -> httpx.Client:
        # None: the owner's token; "": no credentials at all.
        token = self.token if token is None else token
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.live.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    model = tiny_chat_model()
    jupyterlab_environment()  # built in the background by scripts/test; the hub builds nothing here
    live = start_hub(tmp_path_factory.mktemp("notebooks") / "data", {"PIP_NO_INDEX": "1"})
    try:
        owner, token = live.user("nbowner")
        _, other_token = live.user("nbother")
        hf = HfApi(endpoint=live.url, token=token)
        hf.create_repo(f"{owner}/tiny-chat", private=True)
        hf.upload_folder(repo_id=f"{owner}/tiny-chat", folder_path=model, commit_message="the tiny model")
        hf.create_repo(f"{owner}/qa", repo_type="dataset", private=True)
        hf.upload_file(
            path_or_fileobj=CSV.encode(), path_in_repo="train.csv", repo_id=f"{owner}/qa", repo_type="dataset"
        )
        body = {"name": "lab", "model": f"{owner}/tiny-chat", "dataset": f"{owner}/qa"}
        answer = httpx.post(f"{live.url}/api/v1/notebooks", json=body, headers={"authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        yield Started(live, owner, token, other_token, answer.json()["data"])
    finally:
        live.stop()
        kill_replicas_left_in(live.data_dir)


def _detail(s: Started) -> dict[str, Any]:
    with s.api() as client:
        answer = client.get(f"/api/v1/notebooks/{s.notebook['id']}")
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def _running(s: Started) -> bool:
    data = _detail(s)
    assert data["state"] not in ("failed", "stopped"), data
    return data["state"] == "running"


def test_notebook_starts_and_answers_its_status_through_the_hub(started: Started) -> None:
    owner = started.owner
    assert started.notebook["url"] == f"{started.live.url}/notebooks/{owner}/lab/"
    assert (started.notebook["model"], started.notebook["dataset"]) == (f"{owner}/tiny-chat", f"{owner}/qa")
    wait_until(lambda: _running(started), "a running notebook", timeout=START_TIMEOUT, poll=0.5)
    with started.api() as client:
        status = client.get(f"{started.url}api/status")
        assert status.status_code == 200, status.text
        assert {"started", "kernels", "connections"} <= set(status.json())
        # The base URL without its slash leads to it; JupyterLab's page is served under it.
        assert client.get(f"/notebooks/{owner}/lab").headers["location"] == f"/notebooks/{owner}/lab/"
        page = client.get(f"{started.url}lab")
        assert (
            page.status_code == 200 and "jupyter-config-data" in page.text and f"/notebooks/{owner}/lab/" in page.text
        )


def _message(session: str, code: str) -> dict[str, Any]:
    header = {
        "msg_id": secrets.token_hex(8),
        "username": "test",
        "session": session,
        "msg_type": "execute_request",
        "version": "5.3",
        "date": datetime.now(UTC).isoformat(),
    }
    content = {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False}
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}


async def _execute(url: str, token: str, code: str) -> tuple[str, str]:
    """Run `code` in the kernel over its WebSocket: (its stdout, the reply's status)."""
    session = secrets.token_hex(8)
    headers = {"authorization": f"Bearer {token}"}
    async with websockets.connect(f"{url}?session_id={session}", additional_headers=headers) as socket:
        request = _message(session, code)
        await socket.send(json.dumps(request))
        out, status = "", ""
        async with asyncio.timeout(KERNEL_TIMEOUT):
            while not status:
                message = json.loads(await socket.recv())
                if message.get("parent_header", {}).get("msg_id") != request["header"]["msg_id"]:
                    continue
                kind = message["header"]["msg_type"]
                if kind == "stream":
                    out += message["content"]["text"]
                elif kind == "error":
                    out += "\n".join(message["content"]["traceback"])
                elif kind == "execute_reply":
                    status = message["content"]["status"]
        return out, status


CODE = """
import json, os, huggingface_hub
print(os.environ['HF_ENDPOINT'])
print(json.dumps(sorted(os.listdir('models/tiny-chat'))))
print(open('datasets/qa/train.csv').read().splitlines()[1])
api = huggingface_hub.HfApi()
print(api.model_info('{owner}/tiny-chat').id)
try:
    api.create_repo('{owner}/sneaky')
    print('created')
except Exception as exc:
    print('refused', type(exc).__name__)
"""


def test_kernel_runs_code_with_the_hub_address_and_checked_out_files(started: Started) -> None:
    with started.api() as client:
        kernel = client.post(f"{started.url}api/kernels", json={"name": "python3"})
    assert kernel.status_code == 201, kernel.text
    channels = f"{started.url.replace('http', 'ws', 1)}api/kernels/{kernel.json()['id']}/channels"
    out, status = asyncio.run(_execute(channels, started.token, CODE.format(owner=started.owner)))
    assert status == "ok", out
    lines = out.splitlines()
    assert lines[0] == started.live.url
    files = set(json.loads(lines[1]))
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= files
    assert lines[2] == "What is 2+2?,4"
    assert lines[3] == f"{started.owner}/tiny-chat"  # the scoped token reads the model
    assert lines[4].startswith("refused")  # and writes nothing
    # JupyterLab's own client asks for the v1 kernel protocol: the hub passes the choice through.
    assert asyncio.run(_subprotocol(channels, started.token)) == V1_PROTOCOL


V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"


async def _subprotocol(url: str, token: str) -> str | None:
    headers = {"authorization": f"Bearer {token}"}
    offered = [websockets.Subprotocol(V1_PROTOCOL)]
    async with websockets.connect(f"{url}?session_id=v1", additional_headers=headers, subprotocols=offered) as socket:
        return socket.subprotocol


def test_terminal_runs_a_shell_with_the_hub_address(started: Started) -> None:
    with started.api() as client:
        terminal = client.post(f"{started.url}api/terminals")
    assert terminal.status_code == 200, terminal.text
    url = f"{started.url.replace('http', 'ws', 1)}terminals/websocket/{terminal.json()['name']}"

    async def run() -> str:
        headers = {"authorization": f"Bearer {started.token}"}
        seen = ""
        async with websockets.connect(url, additional_headers=headers) as socket:
            await socket.send(json.dumps(["stdin", "echo at:$CSGHUB_ENDPOINT:$(ls models)\r"]))
            async with asyncio.timeout(KERNEL_TIMEOUT):
                while f"at:{started.live.url}:tiny-chat" not in seen:
                    message = json.loads(await socket.recv())
                    if message[0] == "stdout":
                        seen += message[1]
        return seen

    assert f"at:{started.live.url}:tiny-chat" in asyncio.run(run())


def test_notebook_is_invisible_to_everyone_else(started: Started) -> None:
    for token in (started.other_token, ""):
        with started.api(token) as client:
            status = client.get(f"{started.url}api/status")
            assert status.status_code == 404 and status.json()["code"] == "NotebookNotFound"
            assert client.post(f"{started.url}api/kernels", json={}).status_code == 404
            assert client.get(f"/api/v1/notebooks/{started.notebook['id']}").status_code == 404
    channels = f"{started.url.replace('http', 'ws', 1)}api/events/subscribe"

    async def refused() -> int:
        headers = {"authorization": f"Bearer {started.other_token}"}
        with pytest.raises(websockets.InvalidStatus) as refusal:
            async with websockets.connect(channels, additional_headers=headers):
                pass
        return int(refusal.value.response.status_code)

    assert asyncio.run(refused()) == 404


def test_session_cookie_works_from_the_hub_pages_only(started: Started) -> None:
    hub = started.live.hub
    actor = tokens.actor_from_token(hub, started.token)[0]
    signed_in = sessions.open_session(hub, actor)
    cookies = {"csghub_session": signed_in.session_id}
    origin = started.live.url
    with httpx.Client(cookies=cookies, timeout=60) as client:
        assert client.get(f"{started.url}api/status").status_code == 200
        foreign = client.post(f"{started.url}api/kernels", json={}, headers={"origin": "http://evil.example"})
        assert foreign.status_code == 403 and foreign.json()["code"] == "CsrfFailed"
        own = client.post(f"{started.url}api/kernels", json={}, headers={"origin": origin})
        assert own.status_code == 201, own.text
        assert (
            client.delete(f"{started.url}api/kernels/{own.json()['id']}", headers={"origin": origin}).status_code == 204
        )


def test_an_endless_body_is_cut_at_the_bound(started: Started) -> None:
    path = urlsplit(started.url).path + "api/contents/endless.txt"
    start = head("PUT", path, {"Authorization": f"Bearer {started.token}", "Content-Type": "application/json"})
    answer = send_until_answered(started.live.url, start, chunk_frame(), cap=256 * MiB, deadline=60)
    assert answer.status == 413 and answer.json()["code"] == "TooLarge", answer
    # Past the bound the client's bytes still fill the kernel's buffers the hub never reads from: up to
    # tcp_rmem's and tcp_wmem's maximums (32 MiB and 4 MiB on Debian's defaults) on a loaded machine.
    assert MAX_BODY < answer.sent < MAX_BODY + 40 * MiB


def _processes_of(s: Started) -> list[psutil.Process]:
    marker = str(s.live.data_dir / "compute" / "notebooks" / str(s.notebook["id"]))
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        with_marker = any(marker in part for part in process.info["cmdline"] or [])
        if with_marker and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def test_stop_leaves_no_process_and_the_door_answers_503(started: Started) -> None:
    assert _processes_of(started), "the notebook's server runs before the stop"
    with started.api() as client:
        stopped = client.put(f"/api/v1/notebooks/{started.notebook['id']}/stop")
        assert stopped.status_code == 200 and stopped.json()["data"]["state"] == "stopped"
        assert _processes_of(started) == []
        down = client.get(f"{started.url}api/status")
        assert down.status_code == 503 and down.json()["code"] == "NotebookNotRunning"


def test_delete_removes_the_notebook_and_its_files(started: Started) -> None:
    folder = started.live.data_dir / "compute" / "notebooks" / str(started.notebook["id"])
    assert (folder / "work" / "models" / "tiny-chat" / "config.json").is_file()
    with started.api() as client:
        assert client.delete(f"/api/v1/notebooks/{started.notebook['id']}").status_code == 200
        assert client.get(f"/api/v1/notebooks/{started.notebook['id']}").status_code == 404
        assert client.get(f"{started.url}api/status").status_code == 404
    assert not folder.exists()
