"""Carrying one request to an endpoint's replicas and its answer back: the pooled HTTP client, the
round-robin order of replicas, the retry on another replica when one fails before answering, and the
answer relayed in OpenAI's terms (its `model` renamed, its errors reshaped, its usage counted).

Streams are relayed event by event as they arrive, never gathered: an event is held only until its
closing blank line comes, so that the model's name can be renamed in it.

The client is httpcore's connection pool (the transport under httpx): httpx's request and response
models, redirects and auth are of no use between the hub and its replicas, and skipping them halves
the client's CPU time per request (about 0.7 ms less on the project's 2-core machine), which is most
of what the gateway adds to a request.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpcore
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from csghub.transport.openai_shapes import from_engine_error, openai_error

log = logging.getLogger(__name__)

# An answer that is not a stream is read whole before it is rewritten; an event of a stream is held
# until it is complete. Both are our own replicas' answers, bounded all the same.
MAX_ANSWER = 32 * 1024 * 1024
MAX_EVENT = 4 * 1024 * 1024
# Failures of a replica before it sent anything: another replica may take the request.
RETRYABLE = (
    httpcore.ConnectError,
    httpcore.ConnectTimeout,
    httpcore.RemoteProtocolError,
    httpcore.ReadError,
    httpcore.WriteError,
)
_JSON = [(b"content-type", b"application/json")]


class UpstreamTooLarge(Exception):
    pass


@dataclass
class Meter:
    """What one request cost, filled in as its answer passes: the engine's own `usage` when it sends
    one (the last event of a stream), else the events of content it streamed, one per token."""

    started: float = field(default_factory=time.monotonic)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    events: int = 0
    ok: bool = False
    finished: float = 0.0

    def read_usage(self, data: Any) -> None:
        usage = data.get("usage") if isinstance(data, dict) else None
        if isinstance(usage, dict):
            self.prompt_tokens = int(usage.get("prompt_tokens") or 0)
            self.completion_tokens = int(usage.get("completion_tokens") or 0)

    def read_events(self, block: bytes) -> None:
        for line in block.split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                continue
            self.events += 1
            if b'"usage"' in payload:
                with contextlib.suppress(ValueError):  # a usage we cannot read is not worth a failed answer
                    self.read_usage(json.loads(payload))

    @property
    def latency_ms(self) -> float:
        return ((self.finished or time.monotonic()) - self.started) * 1000.0

    @property
    def tokens(self) -> tuple[int, int]:
        completion = self.completion_tokens or max(0, self.events - 1)  # the last event closes, carries none
        return self.prompt_tokens, completion


class Relay:
    """The gateway's HTTP client to replicas, one per hub (made when the app is, closed when it stops),
    and whose turn it is among each endpoint's replicas."""

    def __init__(self, *, timeout: float) -> None:
        # No proxy (one configured for the hub's own downloads must not carry replica traffic).
        self.pool = httpcore.AsyncConnectionPool(max_connections=256, max_keepalive_connections=64)
        # Loopback or a cluster's private network: short to connect, as long as a generation takes to answer.
        self.timeouts = {"timeout": {"connect": 3.0, "read": timeout, "write": timeout, "pool": timeout}}
        self._turns: dict[int, int] = {}

    def order(self, endpoint_id: int, urls: tuple[str, ...]) -> list[str]:
        """Every replica once, starting with the next one's turn."""
        turn = self._turns.get(endpoint_id, 0)
        self._turns[endpoint_id] = turn + 1
        start = turn % len(urls)
        return [*urls[start:], *urls[:start]]

    async def aclose(self) -> None:
        await self.pool.aclose()

    async def open(self, urls: list[str], path: str, body: bytes, on_dead: Callable[[str], None]) -> httpcore.Response:
        """The first replica's answer (its status and headers; the body still to read); a replica that
        fails before answering is reported to `on_dead` and the next one tried."""
        failure: Exception | None = None
        for url in urls:
            # httpcore sends only the headers it is given: HTTP/1.1's Host and the body's length included.
            host = url.split("://", 1)[-1].encode()
            headers = [(b"host", host), *_JSON, (b"content-length", str(len(body)).encode())]
            request = httpcore.Request("POST", url + path, headers=headers, content=body, extensions=self.timeouts)
            try:
                return await self.pool.handle_async_request(request)
            except RETRYABLE as exc:
                log.warning("replica %s failed before answering: %s", url, exc)
                on_dead(url)
                failure = exc
        raise ConnectionError(f"no replica answered: {failure}")


def _chunks(response: httpcore.Response) -> AsyncIterator[bytes]:
    stream = response.stream
    assert isinstance(stream, AsyncIterable)  # an async pool's answers stream asynchronously
    return aiter(stream)


def content_type(response: httpcore.Response) -> str:
    return next((v.decode("latin-1") for k, v in response.headers if k.lower() == b"content-type"), "")


async def read_bounded(response: httpcore.Response, limit: int = MAX_ANSWER) -> bytes:
    pieces: list[bytes] = []
    size = 0
    try:
        async for chunk in _chunks(response):
            size += len(chunk)
            if size > limit:
                raise UpstreamTooLarge
            pieces.append(chunk)
    finally:
        await response.aclose()
    return b"".join(pieces)


def renamer(served: str, public: str) -> Callable[[bytes], bytes]:
    """Replaces the engine's name for the model (a path on the replica's disk) by the endpoint's name,
    wherever an answer quotes it."""
    old, new = json.dumps(served).encode(), json.dumps(public).encode()
    return lambda data: data.replace(old, new) if old in data else data


async def answer_whole(response: httpcore.Response, rename: Callable[[bytes], bytes], meter: Meter) -> Response:
    """A JSON answer, read whole: its usage counted, the model renamed; an error reshaped."""
    raw = rename(await read_bounded(response))
    meter.finished = time.monotonic()
    if response.status >= 400:
        return from_engine_error(response.status, raw)
    try:
        meter.read_usage(json.loads(raw))
    except ValueError:
        return openai_error(502, "The model server answered something that is not JSON", code="upstream_error")
    meter.ok = True
    return Response(raw, media_type="application/json")


async def answer_stream(
    response: httpcore.Response, rename: Callable[[bytes], bytes], meter: Meter, done: BackgroundTask
) -> Response:
    """A server-sent event stream, relayed event by event; an engine that refuses the request answers
    JSON instead, reshaped like any other error."""
    if response.status >= 400 or not content_type(response).startswith("text/event-stream"):
        answer = await answer_whole(response, rename, meter)
        answer.background = done
        return answer

    async def events() -> AsyncIterator[bytes]:
        pending = b""
        try:
            async for chunk in _chunks(response):
                pending += chunk.replace(b"\r\n", b"\n")
                cut = pending.rfind(b"\n\n")
                if cut < 0:
                    if len(pending) > MAX_EVENT:
                        raise UpstreamTooLarge
                    continue
                block, pending = pending[: cut + 2], pending[cut + 2 :]
                meter.read_events(block)
                yield rename(block)
            if pending:
                meter.read_events(pending)
                yield rename(pending)
            meter.ok = True
        finally:
            meter.finished = time.monotonic()
            await response.aclose()

    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}  # no proxy in between may hold events back
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers, background=done)
