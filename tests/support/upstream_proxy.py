"""A tiny HTTP server of the tests' own in front of a live hub: it passes every request through (the Host
header kept, so the hub's LFS hrefs point back at the proxy), counts the bytes of each LFS object it
serves, and misbehaves on the objects it is told to: a 500, a 403, a body cut short, or flipped bytes."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

OBJECT_RE = re.compile(r"/lfs/objects/([0-9a-f]{64})")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}


class UpstreamProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.modes: dict[str, str] = {}  # oid -> "500" | "403" | "truncate" | "corrupt"
        self.served: dict[str, int] = {}  # oid -> bytes sent, all requests together
        self.lock = threading.Lock()
        self.url = ""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                found = OBJECT_RE.search(self.path)
                oid = found[1] if found and self.command == "GET" else ""
                mode = proxy.modes.get(oid, "")
                if mode == "500":
                    self._answer(500, {"Content-Type": "application/json"}, b'{"error": "boom"}')
                    return
                if mode == "403":
                    self._answer(403, {"Content-Type": "application/json"}, b'{"error": "gated: ask for access"}')
                    return
                with (
                    httpx.Client(timeout=60) as client,
                    client.stream(self.command, proxy.target + self.path, headers=headers, content=body) as response,
                ):
                    data = b"".join(response.iter_raw())
                    out = {k: v for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP}
                    status = response.status_code
                if mode == "corrupt" and data:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                if mode == "truncate" and data:
                    self._answer(status, out, data[: len(data) // 2], length=len(data))
                    self.close_connection = True
                    return
                self._answer(status, out, data)
                if oid:
                    with proxy.lock:
                        proxy.served[oid] = proxy.served.get(oid, 0) + len(data)

            def _answer(self, status: int, headers: dict[str, str], data: bytes, length: int | None = None) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data) if length is None else length))
                self.end_headers()
                if self.command != "HEAD":
                    try:
                        self.wfile.write(data)
                        self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        self.close_connection = True

            do_GET = do_POST = do_HEAD = do_PUT = _forward

        return Handler

    @contextmanager
    def running(self) -> Iterator[UpstreamProxy]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
