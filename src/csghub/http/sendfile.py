"""The ASGI `http.response.zerocopysend` extension for uvicorn's httptools connections.

uvicorn does not offer the extension, so a file's bytes would pass through Python twice (read into a
buffer, written to the socket) in pieces, each with a thread hop. This sends them with os.sendfile from
the page cache to the socket in one worker-thread call, like Python's own `http.server` does.

The worker sends on a duplicate of the connection's socket: should the event loop close the connection
meanwhile, the descriptor the worker writes to still names the same socket (never a reused number).
Nothing else writes to the connection while the file goes out: the response's headers are already in
the socket (or the extension falls back to plain body messages), and the application sends nothing
until this send returns.
"""

from __future__ import annotations

import os
import select
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

ZEROCOPY = "http.response.zerocopysend"
_PIECE = 1024 * 1024


def offer_zerocopy(cycle: RequestResponseCycle, timeout: float) -> None:
    """Advertise the extension to the application of this request and serve its messages.

    `timeout`: how long a client may take to accept more bytes before the connection is dropped.
    """
    cycle.scope.setdefault("extensions", {})[ZEROCOPY] = {}
    plain_send: Callable[[Any], Awaitable[None]] = cycle.send

    async def send(message: Any) -> None:
        if message["type"] != ZEROCOPY:
            await plain_send(message)
            return
        await _send_file(cycle, plain_send, message, timeout)

    cycle.send = send  # type: ignore[method-assign]


async def _send_file(
    cycle: RequestResponseCycle, plain_send: Callable[[Any], Awaitable[None]], message: Any, timeout: float
) -> None:
    file = message["file"]
    offset = int(message.get("offset", 0))
    count = message.get("count")
    if count is None:
        count = os.fstat(file.fileno()).st_size - offset
    more_body = bool(message.get("more_body", False))
    transport = cycle.transport
    direct = (
        cycle.response_started
        and not cycle.response_complete
        and not cycle.disconnected
        and cycle.chunked_encoding is False
        and cycle.scope["method"] != "HEAD"
        and transport.get_write_buffer_size() == 0
        and not transport.is_closing()
    )
    if not direct:
        await _send_pieces(plain_send, file, offset, count, more_body)
        return
    sock = transport.get_extra_info("socket")
    if count > cycle.expected_content_length:
        raise RuntimeError("Response content longer than Content-Length")
    fd = os.dup(sock.fileno())
    try:
        await anyio.to_thread.run_sync(_sendfile_all, fd, file.fileno(), offset, count, timeout)
    except OSError:
        # The client left or stopped reading: this response cannot be finished on this connection.
        cycle.disconnected = True
        cycle.message_event.set()
        transport.close()
        return
    finally:
        os.close(fd)
    cycle.expected_content_length -= count
    await plain_send({"type": "http.response.body", "body": b"", "more_body": more_body})


def _sendfile_all(sock_fd: int, file_fd: int, offset: int, count: int, timeout: float) -> None:
    """Send `count` bytes of the file from `offset`, waiting (in this thread) while the socket is full."""
    poller = select.poll()
    poller.register(sock_fd, select.POLLOUT)
    while count > 0:
        try:
            sent = os.sendfile(sock_fd, file_fd, offset, count)
        except BlockingIOError:
            if not poller.poll(timeout * 1000):
                raise TimeoutError(f"Client accepted no bytes for {timeout:g} seconds") from None
            continue
        if sent == 0:
            raise EOFError("File ended before the bytes the response promised")
        offset += sent
        count -= sent


async def _send_pieces(
    plain_send: Callable[[Any], Awaitable[None]], file: Any, offset: int, count: int, more_body: bool
) -> None:
    """The same bytes as body messages, where sendfile cannot be used."""
    while count > 0:
        piece = await anyio.to_thread.run_sync(os.pread, file.fileno(), min(_PIECE, count), offset)
        if not piece:
            raise RuntimeError("File ended before the bytes the response promised")
        offset += len(piece)
        count -= len(piece)
        await plain_send({"type": "http.response.body", "body": piece, "more_body": True})
    await plain_send({"type": "http.response.body", "body": b"", "more_body": more_body})
