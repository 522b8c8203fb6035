"""Bridges between async request/response bodies and the services' synchronous streams."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TypeVar

import anyio
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from csghub.core.errors import HubError

T = TypeVar("T")
_BATCH = 1024 * 1024


async def consume_body(request: Request, consumer: Callable[[Iterator[bytes]], T]) -> T:
    """Run `consumer` in a worker thread, feeding it the request body as it arrives (1 MiB batches)."""
    stream = request.stream().__aiter__()

    async def next_batch() -> bytes:
        buffer = bytearray()
        async for chunk in stream:
            buffer += chunk
            if len(buffer) >= _BATCH:
                break
        return bytes(buffer)

    def chunks() -> Iterator[bytes]:
        while True:
            data = anyio.from_thread.run(next_batch)
            if not data:
                return
            yield data

    return await anyio.to_thread.run_sync(lambda: consumer(chunks()))


class RangeNotSatisfiable(HubError):
    status = 416
    code = "RangeNotSatisfiable"


_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single byte range as [start, end); None for no (or an unsupported multi-) range."""
    if not header:
        return None
    match = _RANGE_RE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable(f"Range {header} is empty")
        return max(size - length, 0), size
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if start >= size or start >= end:
        raise RangeNotSatisfiable(f"Range {header} is outside the {size} bytes of the file")
    return start, end


def _range_headers(
    headers: dict[str, str], size: int, byte_range: tuple[int, int] | None
) -> tuple[int, dict[str, str]]:
    headers = {**headers, "Accept-Ranges": "bytes"}
    if byte_range is None:
        headers["Content-Length"] = str(size)
        return 200, headers
    start, end = byte_range
    headers["Content-Length"] = str(end - start)
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return 206, headers


def stream_bytes(
    chunks: Iterator[bytes],
    *,
    size: int,
    byte_range: tuple[int, int] | None,
    headers: dict[str, str],
    media_type: str = "application/octet-stream",
) -> StreamingResponse:
    status, headers = _range_headers(headers, size, byte_range)
    return StreamingResponse(chunks, status_code=status, media_type=media_type, headers=headers)


def bytes_response(
    data: bytes,
    *,
    size: int,
    byte_range: tuple[int, int] | None,
    headers: dict[str, str],
    media_type: str = "application/octet-stream",
) -> Response:
    """What `stream_bytes` answers, for bytes already in memory: no worker thread to iterate them."""
    status, headers = _range_headers(headers, size, byte_range)
    return Response(data, status_code=status, media_type=media_type, headers=headers)


class DuplexStreamingResponse(StreamingResponse):
    """Streams a response while the handler is still reading the request body.

    Starlette's StreamingResponse listens for a disconnect by calling receive() itself, which would
    steal the request body from a handler that feeds it to a subprocess as the response flows.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.stream_response(send)
        except OSError:
            raise ClientDisconnect() from None
        if self.background is not None:
            await self.background()
