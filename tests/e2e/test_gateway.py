"""The endpoint gateway on a live hub, through the official OpenAI SDK: the tiny chat model deployed (through
CSGHub's deploy API) as a private endpoint with two replicas of `transformers serve`, the tiny embedding
model as a public one with the embeddings worker; chat, streaming, completions and embeddings; OpenAI-style
refusals of bad requests; a private endpoint invisible to anonymous callers and to other users; a replica
killed under traffic while every request still succeeds; and what the requests cost, in the endpoint's
metrics.

One hub and one deployment for the module (the replica test comes last: it kills a process)."""

from __future__ import annotations

import base64
import json
import math
import os
import signal
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from huggingface_hub import HfApi, InferenceClient
from openai import OpenAI
from sqlalchemy import select

from csghub.db.models import ComputeReplica
from csghub.services.compute.frameworks import handle_of
from tests.conftest import start_hub
from tests.support.clients import api
from tests.support.live import LiveHub, kill_replicas_left_in
from tests.support.tiny_models import shared_runtimes_dir, tiny_chat_model, tiny_embedding_model
from tests.support.waiting import wait_until

pytestmark = pytest.mark.engine_bound  # scripts/test runs it on SQLite only (pyproject.toml)

# Bounds, not waits: the first run builds the two runtime environments; a loaded 2-core machine starts
# `transformers serve` in 5-10 s per replica.
DEPLOY_TIMEOUT = 600.0
PROMPT = [{"role": "user", "content": "What is the capital of France?"}]


@dataclass
class Deployed:
    live: LiveHub
    owner: str
    token: str
    other_token: str
    chat_id: int
    embeddings_id: int

    @property
    def chat_url(self) -> str:
        return f"{self.live.url}/endpoints/{self.owner}/bot/v1"

    @property
    def embeddings_url(self) -> str:
        return f"{self.live.url}/endpoints/{self.owner}/emb/v1"

    def client(self, url: str | None = None, token: str | None = None) -> OpenAI:
        # No retries: a request the gateway failed must fail the test, not be hidden by the SDK.
        return OpenAI(base_url=url or self.chat_url, api_key=token or self.token, max_retries=0, timeout=120)

    def status(self, deploy_id: int, model: str = "tiny-chat") -> dict[str, Any]:
        with api(self.live.url, self.token) as hub:
            answer = hub.get(f"/api/v1/models/{self.owner}/{model}/run/{deploy_id}/status")
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()["data"]
        assert data["state"] not in ("failed", "stopped"), data
        return data


def _deploy(live: LiveHub, token: str, model: str, body: dict[str, Any]) -> int:
    with api(live.url, token) as hub:
        answer = hub.post(f"/api/v1/models/{model}/run", json=body)
    assert answer.status_code == 200, answer.text
    deploy_id: int = answer.json()["data"]["deploy_id"]
    return deploy_id


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    chat_model, embedding_model = tiny_chat_model(), tiny_embedding_model()
    data_dir = tmp_path_factory.mktemp("gateway") / "data"
    env = {"CSGHUB_RUNTIMES_DIR": str(shared_runtimes_dir()), "CSGHUB_COMPUTE_STOP_ON_SHUTDOWN": "true"}
    live = start_hub(data_dir, env)
    try:
        owner, token = live.user("gw")
        _, other_token = live.user("other")
        hf = HfApi(endpoint=live.url, token=token)
        for repo, folder in ((f"{owner}/tiny-chat", chat_model), (f"{owner}/tiny-emb", embedding_model)):
            hf.create_repo(repo)
            hf.upload_folder(repo_id=repo, folder_path=folder, commit_message="the tiny model")
        chat = {"deploy_name": "bot", "min_replica": 2, "max_replica": 2, "secure_level": 2}
        chat_id = _deploy(live, token, f"{owner}/tiny-chat", chat)
        embeddings_id = _deploy(live, token, f"{owner}/tiny-emb", {"deploy_name": "emb", "secure_level": 1})
        deployed = Deployed(live, owner, token, other_token, chat_id, embeddings_id)
        wait_until(
            lambda: (
                deployed.status(chat_id)["actual_replica"] == 2
                and deployed.status(embeddings_id, "tiny-emb")["state"] == "running"
            ),
            "both endpoints running",
            timeout=DEPLOY_TIMEOUT,
            poll=0.5,
        )
        yield deployed
    finally:
        live.stop()
        kill_replicas_left_in(data_dir)


def test_gateway_client_leaving_mid_stream_ends_its_request_and_counts_it(deployed: Deployed) -> None:
    """A client that hangs up after the first events is no longer in flight (autoscaling would otherwise
    see it until the gateway's timeout), and what it was streamed is counted, not as an error.

    The module's first test: usage is written in batches every few seconds, so after other tests' requests
    the endpoint's totals could still grow by theirs; here nothing has been asked of the endpoint yet."""
    before = deployed.status(deployed.chat_id)["metrics"]
    assert before["in_flight"] == 0 and before["requests"] == 0
    body = {"model": "bot", "prompt": "The capital of France", "max_tokens": 4000, "stream": True}
    headers = {"Authorization": f"Bearer {deployed.token}"}
    events = 0
    with (
        httpx.Client(timeout=120) as client,
        client.stream("POST", f"{deployed.chat_url}/completions", json=body, headers=headers) as answer,
    ):
        assert answer.status_code == 200
        for line in answer.iter_lines():
            events += line.startswith("data:")
            if events == 3:
                assert deployed.status(deployed.chat_id)["metrics"]["in_flight"] == 1
                break  # leaving the block closes the connection mid-stream

    def ended_and_counted() -> bool:
        metrics = deployed.status(deployed.chat_id)["metrics"]
        return metrics["in_flight"] == 0 and metrics["requests"] == before["requests"] + 1

    wait_until(ended_and_counted, "the abandoned request to end and be counted", timeout=30, poll=0.1)
    after = deployed.status(deployed.chat_id)["metrics"]
    assert after["errors"] == before["errors"]
    assert 2 <= after["completion_tokens"] - before["completion_tokens"] < 4000


def test_gateway_chat_answers_through_the_openai_sdk(deployed: Deployed) -> None:
    client = deployed.client()
    assert [m.id for m in client.models.list()] == [f"{deployed.owner}/bot"]
    answer = client.chat.completions.create(
        model="whatever-the-client-calls-it",
        messages=PROMPT,  # type: ignore[arg-type]
        max_tokens=8,
        temperature=0,
        top_p=1,
        seed=7,
        stop=["\n\n\n"],
    )
    assert answer.model == f"{deployed.owner}/bot"  # never the path the replica loaded it from
    assert answer.choices[0].message.content and answer.choices[0].finish_reason in ("length", "stop")
    assert answer.usage is not None and 0 < answer.usage.completion_tokens <= 8
    assert answer.usage.prompt_tokens > 5
    # huggingface_hub's own client, pointed at the same URL.
    hf = InferenceClient(base_url=deployed.chat_url, api_key=deployed.token)
    again = hf.chat_completion(PROMPT, max_tokens=8, temperature=0)
    assert again.choices[0].message.content == answer.choices[0].message.content  # greedy: the same text


def test_gateway_streams_the_same_answer_chunk_by_chunk(deployed: Deployed) -> None:
    client = deployed.client()
    whole = client.chat.completions.create(model="bot", messages=PROMPT, max_tokens=24)  # type: ignore[arg-type]
    chunks = list(client.chat.completions.create(model="bot", messages=PROMPT, max_tokens=24, stream=True))  # type: ignore[arg-type]
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    # The tiny model writes odd bytes: a stream holds back a character's unfinished bytes (and drops them at
    # the end) where the whole answer shows U+FFFD; the text is otherwise the same.
    assert streamed.replace("\ufffd", "") == (whole.choices[0].message.content or "").replace("\ufffd", "")
    assert len(chunks) > 3 and all(c.model == f"{deployed.owner}/bot" for c in chunks)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens  # type: ignore[union-attr]


def test_gateway_relays_events_as_they_come(deployed: Deployed) -> None:
    """The first events reach the client while the replica still generates: held back, they would all
    arrive in the same moment at the end."""
    body = {"model": "bot", "prompt": "The capital of France", "max_tokens": 400, "stream": True}
    arrivals: list[float] = []
    with httpx.Client(timeout=120) as client:
        headers = {"Authorization": f"Bearer {deployed.token}"}
        with client.stream("POST", f"{deployed.chat_url}/completions", json=body, headers=headers) as answer:
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
            for line in answer.iter_lines():
                if line.startswith("data:"):
                    arrivals.append(time.monotonic())
    assert len(arrivals) > 20
    spread = arrivals[-1] - arrivals[0]
    assert spread > 0.05, f"{len(arrivals)} events all within {spread:.3f} s"


def test_gateway_completions_stream_and_not(deployed: Deployed) -> None:
    client = deployed.client()
    whole = client.completions.create(model="bot", prompt="Hello", max_tokens=6)
    assert whole.choices[0].text and whole.usage is not None and 0 < whole.usage.completion_tokens <= 6
    pieces = list(client.completions.create(model="bot", prompt="Hello", max_tokens=6, stream=True))
    assert "".join(p.choices[0].text for p in pieces if p.choices) == whole.choices[0].text


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def test_gateway_embeddings_float_and_base64(deployed: Deployed) -> None:
    client = deployed.client(deployed.embeddings_url)
    texts = ["Cats sleep on warm windows.", "Dogs chase balls in the park.", "Cats sleep on warm windows."]
    floats = client.embeddings.create(model="emb", input=texts, encoding_format="float")
    vectors = [d.embedding for d in floats.data]
    assert [d.index for d in floats.data] == [0, 1, 2] and len(vectors[0]) == 32
    assert all(abs(_norm(v) - 1.0) < 1e-4 for v in vectors)
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]
    assert floats.usage.prompt_tokens > 6 and floats.model == f"{deployed.owner}/emb"
    raw = httpx.post(
        f"{deployed.embeddings_url}/embeddings",
        json={"input": texts[0], "encoding_format": "base64"},
        headers={"Authorization": f"Bearer {deployed.token}"},
        timeout=60,
    ).json()
    decoded = struct.unpack("<32f", base64.b64decode(raw["data"][0]["embedding"]))
    assert all(abs(a - b) < 1e-6 for a, b in zip(decoded, vectors[0], strict=True))
    # A public endpoint: anyone may call it, without a token.
    anonymous = httpx.post(f"{deployed.embeddings_url}/embeddings", json={"input": "Rain"}, timeout=60)
    assert anonymous.status_code == 200 and len(anonymous.json()["data"][0]["embedding"]) == 32


def test_gateway_routes_only_what_the_model_serves(deployed: Deployed) -> None:
    with pytest.raises(openai.BadRequestError) as chat_on_embedder:
        deployed.client(deployed.embeddings_url).chat.completions.create(model="emb", messages=PROMPT)  # type: ignore[arg-type]
    assert "embedding model" in chat_on_embedder.value.message
    with pytest.raises(openai.BadRequestError) as embed_on_chat:
        deployed.client().embeddings.create(model="bot", input="x")
    assert "text generation model" in embed_on_chat.value.message


def _post(deployed: Deployed, path: str, content: bytes, token: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{deployed.chat_url}/{path}", content=content, headers=headers, timeout=60)


def test_gateway_refuses_bad_requests_openai_style(deployed: Deployed) -> None:
    client = deployed.client()
    with pytest.raises(openai.BadRequestError) as too_many:
        client.chat.completions.create(model="bot", messages=PROMPT, max_tokens=1_000_000)  # type: ignore[arg-type]
    assert too_many.value.code == "invalid_value" and too_many.value.param == "max_tokens"
    with pytest.raises(openai.BadRequestError) as unknown_field:
        client.chat.completions.create(model="bot", messages=PROMPT, extra_body={"bogus_field": 1})  # type: ignore[arg-type]
    assert "bogus_field" in unknown_field.value.message  # the engine's 422, as OpenAI's 400
    unknown = deployed.client(f"{deployed.live.url}/endpoints/{deployed.owner}/no-such-bot/v1")
    with pytest.raises(openai.NotFoundError) as missing:
        unknown.chat.completions.create(model="no-such-bot", messages=PROMPT)  # type: ignore[arg-type]
    assert missing.value.code == "model_not_found"
    cases = {
        b'{"model": "bot", "messages": [}': ("not valid JSON", None),
        b'["messages"]': ("JSON object", None),
        b'{"model": "bot"}': ("'messages' is required", "messages"),
        b'{"messages": [{"content": "no role"}]}': ("'role'", "messages[0]"),
        b'{"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}': ("temperature", "temperature"),
        b'{"messages": [{"role": "user", "content": "x"}], "stream": "yes"}': ("stream", "stream"),
    }
    for body, (message, param) in cases.items():
        answer = _post(deployed, "chat/completions", body, deployed.token)
        assert answer.status_code == 400, (body, answer.text)
        error = answer.json()["error"]
        assert message in error["message"] and error["type"] == "invalid_request_error" and error["param"] == param
    prompt_missing = _post(deployed, "completions", b'{"model": "bot"}', deployed.token)
    assert prompt_missing.status_code == 400 and prompt_missing.json()["error"]["param"] == "prompt"
    # The replicas are unharmed: the next request is answered.
    assert client.chat.completions.create(model="bot", messages=PROMPT, max_tokens=2).choices  # type: ignore[arg-type]


def _raw_exchange(deployed: Deployed, head: str, pieces: list[bytes]) -> tuple[str, dict[str, str], bytes]:
    """Sends a request's head and the given body pieces on a fresh connection, then reads the answer to
    the end of the connection (the gateway closes it after refusing a body): (status line, headers, body)."""
    url = httpx.URL(deployed.live.url)
    with socket.create_connection((url.host, url.port or 80), timeout=60) as sock:
        sock.sendall(head.encode() + b"\r\n")
        for piece in pieces:
            sock.sendall(piece)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    header_block, _, body = received.partition(b"\r\n\r\n")
    status, *lines = header_block.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return status, headers, body


def test_gateway_bounds_the_body_before_and_while_reading_it(deployed: Deployed) -> None:
    path = f"/endpoints/{deployed.owner}/bot/v1/chat/completions"
    common = f"POST {path} HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {deployed.token}\r\n"
    common += "Content-Type: application/json\r\n"
    limit = 1024 * 1024  # the hub's max_json_body
    # A declared length past the bound is refused before a byte of the body is read: the answer comes
    # although the client sent only the first bytes of its 8 MiB.
    status, headers, body = _raw_exchange(deployed, common + f"Content-Length: {8 * limit}\r\n", [b'{"messages": ['])
    assert status.split()[1] == "413" and headers.get("connection") == "close"
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error" and f"of {8 * limit} bytes" in error["message"]
    # A chunked body, its length unknown in advance, is cut off as soon as it passes the bound.
    piece = b"x" * 65536
    chunks = [f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for _ in range(limit // len(piece) + 1)]
    status, headers, body = _raw_exchange(deployed, common + "Transfer-Encoding: chunked\r\n", chunks)
    assert status.split()[1] == "413" and headers.get("connection") == "close"
    assert f"exceeds the {limit} bytes" in json.loads(body)["error"]["message"]
    # Only the methods the protocol has: OpenAI's error shape, with what is allowed.
    wrong = httpx.get(f"{deployed.chat_url}/chat/completions", headers={"Authorization": f"Bearer {deployed.token}"})
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST" and "POST" in wrong.json()["error"]["message"]
    # The replicas are unharmed and the next request, a fair one, is answered.
    assert deployed.client().chat.completions.create(model="bot", messages=PROMPT, max_tokens=2).choices  # type: ignore[arg-type]


def test_gateway_private_endpoint_is_invisible_to_others(deployed: Deployed) -> None:
    body = b'{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}'
    for token in (None, deployed.other_token):
        for answer in (
            _post(deployed, "chat/completions", body, token),
            httpx.get(
                f"{deployed.chat_url}/models",
                headers={"Authorization": f"Bearer {token}"} if token else {},
                timeout=60,
            ),
        ):
            assert answer.status_code == 404, answer.text
            assert answer.json()["error"]["code"] == "model_not_found"
            assert "bot" in answer.json()["error"]["message"]
    with pytest.raises(openai.NotFoundError):
        deployed.client(token=deployed.other_token).chat.completions.create(model="bot", messages=PROMPT)  # type: ignore[arg-type]
    with pytest.raises(openai.AuthenticationError) as wrong_key:
        deployed.client(token="csg_not-a-real-token").models.list()
    assert wrong_key.value.code == "invalid_api_key"


def _replica_pids(deployed: Deployed) -> dict[str, int]:
    """Replica URL -> pid of its server, from the handles the hub keeps."""
    with deployed.live.hub.db() as session:
        rows = session.scalars(
            select(ComputeReplica).where(
                ComputeReplica.instance_id == deployed.chat_id, ComputeReplica.state == "healthy"
            )
        ).all()
        handles = [(r.url, handle_of(r.handle)) for r in rows]
    return {url: int(h.ref.split(":")[0]) for url, h in handles if h is not None}


def test_gateway_usage_is_metered(deployed: Deployed) -> None:
    before = deployed.status(deployed.chat_id)["metrics"]
    client = deployed.client()
    for _ in range(3):
        client.chat.completions.create(model="bot", messages=PROMPT, max_tokens=4)  # type: ignore[arg-type]

    def counted() -> bool:
        metrics = deployed.status(deployed.chat_id)["metrics"]
        return metrics["requests"] >= before["requests"] + 3

    wait_until(counted, "three more requests in the metrics", timeout=30, poll=0.1)
    metrics = deployed.status(deployed.chat_id)["metrics"]
    assert metrics["completion_tokens"] >= before["completion_tokens"] + 3
    assert metrics["prompt_tokens"] > before["prompt_tokens"] and metrics["tokens_per_second"] > 0
    assert metrics["latency_ms_p50"] > 0


def test_gateway_keeps_answering_when_a_replica_dies(deployed: Deployed) -> None:
    pids = _replica_pids(deployed)
    assert len(pids) == 2
    victim = sorted(pids.values())[0]
    restarts_before = {i["name"]: i["restarts"] for i in deployed.status(deployed.chat_id)["instances"]}
    os.kill(victim, signal.SIGKILL)
    client = deployed.client()
    # Every request succeeds: the dead replica's turn goes to the live one (the gateway retries a
    # replica that refused the connection before answering).
    for index in range(8):
        answer = client.chat.completions.create(model="bot", messages=PROMPT, max_tokens=3)  # type: ignore[arg-type]
        assert answer.choices[0].message.content is not None, index
    streamed = list(client.chat.completions.create(model="bot", messages=PROMPT, max_tokens=3, stream=True))  # type: ignore[arg-type]
    assert streamed and streamed[-1].usage is not None

    def restarted() -> bool:
        status = deployed.status(deployed.chat_id)
        restarts = {i["name"]: i["restarts"] for i in status["instances"]}
        return status["actual_replica"] == 2 and sum(restarts.values()) > sum(restarts_before.values())

    wait_until(restarted, "the killed replica restarted", timeout=DEPLOY_TIMEOUT, poll=0.5)
    assert victim not in _replica_pids(deployed).values()
    for _ in range(4):  # both replicas take turns again
        assert client.chat.completions.create(model="bot", messages=PROMPT, max_tokens=2).choices  # type: ignore[arg-type]
