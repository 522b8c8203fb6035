"""Carrying one request to an endpoint's replicas and its answer back: the pooled HTTP client, the
round-robin order of replicas, the retry on another replica when one fails before answering, and the
answer relayed in OpenAI's terms (its `model` renamed, its errors reshaped, its usage counted).

Streams are relayed event by event as they arrive, never gathered: an event is held only until its
closing blank line comes, so that the model's name can be renamed in it.

The client is aiohttp's: its HTTP parser is C and it drives asyncio's transports directly, where
httpcore parses with h11 (pure Python) over anyio's streams. Measured on the project's 2-core machine
against a local server, a keep-alive POST cost the client 0.34 ms of CPU with aiohttp and 0.98 ms with
httpcore: most of what the gateway adds to a request.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from fastapi.responses import Response, StreamingResponse
from yarl import URL

from csghub.transport.openai_shapes import from_engine_error, openai_error

log = logging.getLogger(__name__)

# An answer that is not a stream is read whole before it is rewritten; an event of a stream is held
# until it is complete. Both are our own replicas' answers, bounded all the same.
MAX_ANSWER = 32 * 1024 * 1024
MAX_EVENT = 4 * 1024 * 1024
# Failures of a replica before it sent anything: another replica may take the request. A read that
# times out is not one of them (the replica may still be generating).
RETRYABLE = (
    aiohttp.ClientConnectorError,  # refused, unreachable
    aiohttp.ConnectionTimeoutError,
    aiohttp.ServerDisconnectedError,  # a kept-alive connection to a replica that has died since
    aiohttp.ClientOSError,  # reset while sending
)
_JSON = {"Content-Type": "application/json"}


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
        # Loopback or a cluster's private network: short to connect, as long as a generation takes to answer.
        self.timeout = aiohttp.ClientTimeout(total=None, connect=3.0, sock_read=timeout)
        self._session: aiohttp.ClientSession | None = None  # made on first use, inside the event loop
        self._turns: dict[int, int] = {}
        self._urls: dict[tuple[str, str], URL] = {}

    def order(self, endpoint_id: int, urls: tuple[str, ...]) -> list[str]:
        """Every replica once, starting with the next one's turn."""
        turn = self._turns.get(endpoint_id, 0)
        self._turns[endpoint_id] = turn + 1
        start = turn % len(urls)
        return [*urls[start:], *urls[:start]]

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256, limit_per_host=0, keepalive_timeout=60),
                timeout=self.timeout,
                # Nothing is asked of a replica but its answer: no proxy (one configured for the hub's own
                # downloads must not carry replica traffic), no cookies, no compression, no default headers.
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            )
        return self._session

    def _url(self, base: str, path: str) -> URL:
        # yarl parses and normalizes a URL on every construction: one per replica and path is enough.
        url = self._urls.get((base, path))
        if url is None:
            if len(self._urls) > 4096:
                self._urls.clear()  # replicas come and go on new ports
            url = self._urls[(base, path)] = URL(base + path, encoded=True)
        return url

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def open(
        self, urls: list[str], path: str, body: bytes, on_dead: Callable[[str], None]
    ) -> aiohttp.ClientResponse:
        """The first replica's answer (its status and headers; the body still to read); a replica that
        fails before answering is reported to `on_dead` and the next one tried."""
        client = self._client()
        failure: Exception | None = None
        for url in urls:
            try:
                return await client.post(self._url(url, path), data=body, headers=_JSON)
            except RETRYABLE as exc:
                log.warning("replica %s failed before answering: %s", url, exc)
                on_dead(url)
                failure = exc
        raise ConnectionError(f"no replica answered: {failure}")


def content_type(response: aiohttp.ClientResponse) -> str:
    return response.headers.get("Content-Type", "")


async def read_bounded(response: aiohttp.ClientResponse, limit: int = MAX_ANSWER) -> bytes:
    pieces: list[bytes] = []
    size = 0
    try:
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > limit:
                raise UpstreamTooLarge
            pieces.append(chunk)
    finally:
        response.release()
    return b"".join(pieces)


def renamer(served: str, public: str) -> Callable[[bytes], bytes]:
    """Replaces the engine's name for the model (a path on the replica's disk) by the endpoint's name,
    wherever an answer quotes it."""
    old, new = json.dumps(served).encode(), json.dumps(public).encode()
    return lambda data: data.replace(old, new) if old in data else data


async def answer_whole(response: aiohttp.ClientResponse, rename: Callable[[bytes], bytes], meter: Meter) -> Response:
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
    response: aiohttp.ClientResponse, rename: Callable[[bytes], bytes], meter: Meter
) -> tuple[Response, AsyncGenerator[bytes, None] | None]:
    """A server-sent event stream, relayed event by event, and the stream for the caller to close once the
    answer is over (the client may leave mid-stream); an engine that refuses the request answers JSON
    instead, reshaped like any other error."""
    if response.status >= 400 or not content_type(response).startswith("text/event-stream"):
        return await answer_whole(response, rename, meter), None

    async def events() -> AsyncGenerator[bytes, None]:
        pending = b""
        # A stream is a success unless the replica fails it; a client that leaves (the stream closed or
        # cancelled where it waits) is not the endpoint's error.
        meter.ok = True
        try:
            async for chunk in response.content.iter_any():
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
        except Exception:
            meter.ok = False
            raise
        finally:
            meter.finished = time.monotonic()
            response.release()  # a stream cut short closes its connection: aiohttp keeps none half-read

    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}  # no proxy in between may hold events back
    stream = events()
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers), stream
