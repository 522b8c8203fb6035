"""A replica's log as server-sent events, followed as it grows (`GET .../run/{id}/logs/{instance}`).

One event per log line (`event: Container`, as CSGHub's portal listens for), its `id` the byte offset
after it, so a client that reconnects with `Last-Event-ID` (or `?offset=`) goes on where it stopped.
Following is bounded: it ends after FOLLOW_SECONDS, when the client goes away, or at once with
`?follow=false` (what there is so far, then the end).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from csghub.http.deps import get_hub
from csghub.http.params import lenient_index
from csghub.services.compute import endpoints
from csghub.services.permissions import Actor

FOLLOW_SECONDS = 600.0
POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
MAX_LINE = 16 * 1024  # longer lines are cut: an event is for reading, the whole log stays on disk
LOG_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The replica's log lines as server-sent events (`event: Container`, `id`: byte offset)",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def _events(lines: list[bytes], start: int, *, newline: bool = True) -> bytes:
    """SSE events for the lines that begin at byte `start` of the log (each followed by a newline,
    unless `newline` is false for the last, unfinished one)."""
    out = bytearray()
    end = start
    for line in lines:
        end += len(line) + (1 if newline else 0)
        text = line[:MAX_LINE].decode("utf-8", "replace").replace("\r", "")
        out += f"id: {end}\nevent: Container\ndata: {text}\n\n".encode()
    return bytes(out)


def _start(request: Request) -> tuple[int, bool]:
    resumed = request.headers.get("last-event-id")
    offset = lenient_index(resumed if resumed is not None else request.query_params.get("offset"))
    follow = request.query_params.get("follow", "true").lower() not in ("0", "false", "no")
    return offset, follow


async def log_stream(request: Request, actor: Actor, endpoint_id: int, replica: int) -> StreamingResponse:
    """The stream; the first read happens before it starts, so a refusal is still an error answer."""
    hub = get_hub(request)

    async def read(offset: int) -> bytes:
        return await run_in_threadpool(endpoints.read_replica_log, hub, actor, endpoint_id, replica, offset)

    return await stream_log(request, read)


async def stream_log(request: Request, read: Callable[[int], Awaitable[bytes]]) -> StreamingResponse:
    """Any growing log as this module's events; `read(offset)` gives its bytes from `offset`."""
    start, follow = _start(request)
    first = await read(start)

    async def events() -> AsyncIterator[bytes]:
        data, offset, partial = first, start, b""  # `partial`: the unfinished line that began before `offset`
        deadline = time.monotonic() + FOLLOW_SECONDS
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if data:
                lines = (partial + data).split(b"\n")
                begins = offset - len(partial)
                offset += len(data)
                partial = lines.pop()
                if lines:
                    yield _events(lines, begins)
                if len(partial) > MAX_LINE:  # a line without end is shown in pieces, never gathered whole
                    yield _events([partial], offset - len(partial), newline=False)
                    partial = b""
                quiet_since = time.monotonic()
            elif not follow or await request.is_disconnected():
                break
            else:
                if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                    yield b": waiting for more\n\n"  # a comment keeps proxies from closing an idle stream
                    quiet_since = time.monotonic()
                await asyncio.sleep(POLL_SECONDS)  # the log is a file that grows; nothing signals a new line
            data = await read(offset)
        if partial:
            yield _events([partial], offset - len(partial), newline=False)
        yield b"event: end\ndata: \n\n"

    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
