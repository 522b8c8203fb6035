"""A test's own reverse proxy in front of an upstream hub: it counts the requests per path, and can cut an
LFS object's transfer half-way (an upstream that fails mid-body)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}


class CountingProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream.rstrip("/")
        self.hits: Counter[str] = Counter()
        self.cut_objects = False
        # When set to an unset Event: LFS objects are sent half, then the rest once it is set (at most 60 s).
        self.hold_objects: threading.Event | None = None
        self.lock = threading.Lock()
        self.client = httpx.Client(timeout=60, follow_redirects=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, fragment: str) -> int:
        with self.lock:
            return sum(n for path, n in self.hits.items() if fragment in path)


class _Handler(BaseHTTPRequestHandler):
    server: CountingProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _forward(self) -> None:
        with self.server.lock:
            self.server.hits[self.path.split("?")[0]] += 1
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        # The upstream builds its transfer links from Host: they come back through this proxy too.
        headers["Host"] = self.headers.get("host", "")
        request = self.server.client.build_request(
            self.command, self.server.upstream + self.path, headers=headers, content=self._body()
        )
        answer = self.server.client.send(request, stream=True)
        try:
            self.send_response(answer.status_code)
            for key, value in answer.headers.multi_items():
                if key.lower() not in _HOP:
                    self.send_header(key, value)
            body = b"".join(answer.iter_raw())  # as sent: its Content-Encoding goes along
            cut = self.server.cut_objects and "/lfs/objects/" in self.path and self.command == "GET"
            length = answer.headers.get("content-length", "0") if self.command == "HEAD" else str(len(body))
            self.send_header("Content-Length", length)
            self.send_header("Connection", "close" if cut else "keep-alive")
            self.end_headers()
            if cut:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            held = self.server.hold_objects
            if held is not None and "/lfs/objects/" in self.path and self.command == "GET":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                held.wait(timeout=60)
                body = body[len(body) // 2 :]
            self.wfile.write(body)
        finally:
            answer.close()

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward


@contextmanager
def counting_proxy(upstream: str) -> Iterator[CountingProxy]:
    proxy = CountingProxy(upstream)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        proxy.client.close()
