"""HTTP/1.1 by hand, for what real clients refuse to send: endless bodies, huge headers, slow trickles.

`send_until_answered` writes a request head, then repeats a frame (a body chunk, header bytes) until
the server answers or closes, a byte cap or a deadline is reached, and returns what came back and how
much was sent. Only ever aimed at 127.0.0.1.
"""

from __future__ import annotations

import json
import select
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RawAnswer:
    status: int | None  # None: the connection closed without a response
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    sent: int = 0
    seconds: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)


def chunk_frame(size: int = 64 * 1024) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n" % size + b"x" * size + b"\r\n"


def head(method: str, path: str, headers: dict[str, str] | None = None, *, chunked: bool = True) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1", "raw traffic only goes to the loopback hub"
    return socket.create_connection((parts.hostname, parts.port or 80), timeout=30)


def send_until_answered(
    url: str,
    start: bytes,
    frame: bytes,
    *,
    cap: int = 512 * 1024 * 1024,
    deadline: float = 30.0,
    pause: float = 0.0,
) -> RawAnswer:
    """Send `start`, then `frame` again and again (waiting `pause` seconds between frames, as a slow
    client would) until the server speaks or closes; then read its answer."""
    began = time.monotonic()
    sent = 0
    with connect(url) as sock:
        sock.sendall(start)
        sock.setblocking(False)
        while frame and sent < cap and time.monotonic() - began < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1.0)
            if readable:
                break
            if writable:
                try:
                    sent += sock.send(frame)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    break
                if pause:
                    readable, _, _ = select.select([sock], [], [], pause)
                    if readable:
                        break
        answer = read_answer(sock, began + deadline)
    answer.sent = sent
    answer.seconds = time.monotonic() - began
    return answer


def read_answer(sock: socket.socket, until: float) -> RawAnswer:
    """The response on `sock`, read until it is complete, the server closes, or `until` (monotonic)."""
    data = b""
    while time.monotonic() < until:
        readable, _, _ = select.select([sock], [], [], max(0.0, until - time.monotonic()))
        if not readable:
            break
        try:
            piece = sock.recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            break
        if not piece:
            break
        data += piece
        if _complete(data):
            break
    return _parse(data)


def _complete(data: bytes) -> bool:
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    headers = _parse(data).headers
    length = int(headers.get("content-length", "-1"))
    return length >= 0 and len(data) - head_end - 4 >= length


def _parse(data: bytes) -> RawAnswer:
    head_end = data.find(b"\r\n\r\n")
    if not data.startswith(b"HTTP/1.") or head_end < 0:
        return RawAnswer(status=None)
    lines = data[:head_end].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(status=int(lines[0].split()[1]), headers=headers, body=data[head_end + 4 :])
