"""Bounds on what a connection may do before its request reaches the application: the size of the
request line and headers, and how long they may take to arrive.

uvicorn's httptools protocol keeps a header however long it grows and waits forever for the end of the
headers (its keep-alive timer stops at the first byte), so one client could hold memory and a
connection indefinitely. This protocol answers 431 past `max_header_bytes` and 408 when the headers
are not complete `timeout` seconds after their first byte (or after the connection opened), then
closes the connection.

Closing while a client is still sending (an endless body after a 413, a huge header after a 431)
would make the kernel answer with a reset that can destroy the response before the client reads it;
so connections close the way nginx's lingering_close does: send the response and a FIN, discard what
still arrives for a moment, then close.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from uvicorn._types import ASGI3Application
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from csghub.http.sendfile import offer_zerocopy

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
LINGER_SECONDS = 2.0


class _LingeringTransport(asyncio.Transport):
    """The connection's transport, but close() first half-closes and drains for LINGER_SECONDS."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._closing = False
        self._timer: asyncio.TimerHandle | None = None

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._transport.is_closing():
            return
        try:
            if not self._transport.can_write_eof():
                self._transport.close()
                return
            self._transport.write_eof()
            self._transport.resume_reading()  # keep draining what the client still sends
        except (OSError, RuntimeError):
            self._transport.close()
            return
        self._timer = self._loop.call_later(LINGER_SECONDS, self._transport.close)

    def close_now(self) -> None:
        self.lost()
        self._transport.close()

    def lost(self) -> None:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def is_closing(self) -> bool:
        return self._closing or self._transport.is_closing()

    def abort(self) -> None:
        self.lost()
        self._transport.abort()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._transport.write(data)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self._transport.writelines(list_of_data)

    def write_eof(self) -> None:
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def pause_reading(self) -> None:
        if not self._closing:
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_header_bytes = 64 * 1024
    header_timeout = 30.0

    _in_headers = True
    _header_bytes = 0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_LingeringTransport(transport, self.loop))
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        if isinstance(self.transport, _LingeringTransport):
            self.transport.lost()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._in_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        # Checked after parsing: a chunk that completes the headers may carry much of the body too.
        if self._in_headers and self._header_bytes > self.max_header_bytes and not self.transport.is_closing():
            self._refuse(431, f"Request line and headers exceed {self.max_header_bytes} bytes")

    def shutdown(self) -> None:
        # The server is stopping: an idle connection has nothing to linger for.
        if isinstance(self.transport, _LingeringTransport) and (self.cycle is None or self.cycle.response_complete):
            self.transport.close_now()
            return
        super().shutdown()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_headers = True
        self._header_bytes = 0

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        offer_zerocopy(cycle, self.header_timeout)  # files go out with sendfile (http/sendfile.py)
        super()._start_asgi_task(cycle, app)

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._in_headers and not self.transport.is_closing():
            self._refuse(408, f"Request headers not received within {self.header_timeout:g} seconds")

    def _refuse(self, status: int, message: str) -> None:
        """Answer in the hub's error shape when no response is under way, then close."""
        self._disarm_header_timer()
        if self.cycle is None or self.cycle.response_complete:
            body = json.dumps({"error": message, "code": _REASONS[status].decode().replace(" ", "")}).encode()
            head = (
                f"HTTP/1.1 {status} {_REASONS[status].decode()}\r\n"
                "content-type: application/json\r\n"
                f"content-length: {len(body)}\r\n"
                "connection: close\r\n\r\n"
            ).encode()
            self.transport.write(head + body)
        self.transport.close()


def bounded_protocol(*, max_header_bytes: int, header_timeout: float) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for uvicorn's `http` setting, with this server's bounds."""
    return type(
        "ConfiguredHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {"max_header_bytes": max_header_bytes, "header_timeout": header_timeout},
    )
