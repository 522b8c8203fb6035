"""A webhook receiver the tests run: an HTTP server on 127.0.0.1 in a thread that keeps every request
(path, headers, JSON body) and answers each path with the statuses it was told, in turn (then 200)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.waiting import wait_until


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: dict[str, list[int]] = field(default_factory=dict)
    # Paths whose next request is kept unanswered until `release` (bounded: 20 s).
    held: dict[str, threading.Event] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, *statuses: int) -> None:
        """Answer the next requests to `path` with `statuses`, in turn; 200 after them."""
        with self.lock:
            self.answers[path] = list(statuses)

    def hold(self, path: str) -> None:
        with self.lock:
            self.held[path] = threading.Event()

    def release(self, path: str) -> None:
        with self.lock:
            gate = self.held.pop(path, None)
        if gate is not None:
            gate.set()

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, *, timeout: float = 30.0) -> list[Received]:
        wait_until(lambda: len(self.at(path)) >= count, f"{count} deliveries to {path}", timeout=timeout)
        return self.at(path)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                receiver.received.append(Received(self.path, dict(self.headers.items()), json.loads(raw)))
                statuses = receiver.answers.get(self.path) or [200]
                status = statuses.pop(0) if receiver.answers.get(self.path) else 200
                gate = receiver.held.get(self.path)
            if gate is not None:
                gate.wait(timeout=20)
            self.send_response(status)
            body = b'{"ok": true}' if status == 200 else b"receiver failing on purpose"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
