"""Bridges between async request/response bodies and the services' synchronous streams."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar, runtime_checkable

import anyio
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from csghub.core.errors import HubError
from csghub.http.sendfile import ZEROCOPY

T = TypeVar("T")
# Request bodies reach the consumer thread in batches of this size, at most _QUEUED of them waiting: one
# thread hop per 2 MiB, and at most about 8 MiB of one body in memory.
_BATCH = 2 * 1024 * 1024
_QUEUED = 2


async def consume_body(request: Request, consumer: Callable[[Iterator[bytes]], T]) -> T:
    """Run `consumer` in a worker thread, feeding it the request body as it arrives.

    The event loop keeps receiving the next batches while the worker hashes and writes the last one,
    so the network and the disk overlap instead of taking turns. An error while receiving (a
    disconnect, a body past its bound, a stalled client) is raised inside the consumer where its
    next batch would be, so it unwinds (and cleans up) as it would on bad bytes.
    """
    sender, receiver = anyio.create_memory_object_stream[bytes | Exception](max_buffer_size=_QUEUED)
    cut = False

    async def produce() -> None:
        nonlocal cut
        async with sender:
            try:
                pieces: list[bytes] = []
                held = 0
                async for chunk in request.stream():
                    pieces.append(chunk)
                    held += len(chunk)
                    if held >= _BATCH:
                        await sender.send(b"".join(pieces))
                        pieces, held = [], 0
                if pieces:
                    await sender.send(b"".join(pieces))
            except anyio.get_cancelled_exc_class():
                cut = True
                raise
            except Exception as exc:  # raised by the consumer, where its next batch would be
                await sender.send(exc)

    def chunks() -> Iterator[bytes]:
        while True:
            try:
                item = anyio.from_thread.run(receiver.receive)
            except anyio.EndOfStream:
                if cut:  # the request was cancelled: what arrived is not the whole body
                    raise ClientDisconnect() from None
                return
            if isinstance(item, Exception):
                raise item
            yield item

    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(produce)
        try:
            result = await anyio.to_thread.run_sync(lambda: consumer(chunks()))
        except Exception as exc:  # raised below, outside the task group, which would wrap it in a group
            failure = exc
        finally:
            # A consumer that stops early leaves the rest of the body unread.
            group.cancel_scope.cancel()
            receiver.close()
    if failure is not None:
        raise failure
    return result


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


@runtime_checkable
class FileSpan(Protocol):
    """Chunks that are a span of an open local file, which a server may send without reading them."""

    file: BinaryIO
    offset: int
    count: int

    def close(self) -> None: ...


class ChunksResponse(StreamingResponse):
    """Streams chunks; a span of a local file goes out by zero-copy where the server offers it
    (http/sendfile.py), from the page cache to the socket without passing through Python."""

    def __init__(self, chunks: Iterator[bytes], **kwargs: Any) -> None:
        super().__init__(chunks, **kwargs)
        self.span = chunks if isinstance(chunks, FileSpan) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.span is None or ZEROCOPY not in scope.get("extensions", {}):
            await super().__call__(scope, receive, send)
            return
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            await send({"type": ZEROCOPY, "file": self.span.file, "offset": self.span.offset, "count": self.span.count})
        finally:
            self.span.close()
        if self.background is not None:
            await self.background()


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
) -> ChunksResponse:
    status, headers = _range_headers(headers, size, byte_range)
    return ChunksResponse(chunks, status_code=status, media_type=media_type, headers=headers)


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


_FILE_CHUNK = 1024 * 1024


def temporary_file_download(
    path: Path, filename: str, media_type: str, headers: Mapping[str, str] | None = None
) -> StreamingResponse:
    """A temporary file sent as an attachment. Its name is removed at once: the open file keeps the bytes
    until the answer ends, so nothing is left behind however the download ends (a client that goes away
    mid-stream included)."""
    try:
        fh = path.open("rb")
    finally:
        path.unlink(missing_ok=True)

    def chunks() -> Iterator[bytes]:
        with fh:
            while chunk := fh.read(_FILE_CHUNK):
                yield chunk

    sent = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Content-Length": str(os.fstat(fh.fileno()).st_size),
        **(headers or {}),
    }
    return StreamingResponse(chunks(), media_type=media_type, headers=sent)
