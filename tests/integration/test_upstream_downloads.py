"""Upstream downloads and listings against a misbehaving server of the test's own on 127.0.0.1: a body
cut short keeps its .part for the next attempt, a server that ignores Range starts over, 5xx is
UpstreamUnavailable, and tree listings follow the Link header's next page."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from csghub.net.guard import AddressRules
from csghub.services.mirrors.upstream import Upstream, UpstreamCorrupt, UpstreamUnavailable

DATA = os.urandom(300_000)
SHA = hashlib.sha256(DATA).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Range", "")))
        if self.path == "/cut":  # promises everything, sends a third, hangs up
            self._head(200, len(DATA))
            self.wfile.write(DATA[: len(DATA) // 3])
            return
        if self.path == "/norange":  # ignores Range: always the whole object
            self._head(200, len(DATA))
            self.wfile.write(DATA)
            return
        if self.path == "/ranged":
            start = int(self.headers.get("Range", "bytes=0-")[len("bytes=") :].rstrip("-") or 0)
            self._head(206 if start else 200, len(DATA) - start)
            self.wfile.write(DATA[start:])
            return
        if self.path == "/boom":
            body = json.dumps({"error": "disk on fire"}).encode()
            self._head(503, len(body))
            self.wfile.write(body)
            return
        if self.path.startswith("/api/models/a/b/tree/main"):
            page = 2 if "cursor=2" in self.path else 1
            items = [{"type": "file", "path": f"f{page}.txt", "oid": "1" * 40, "size": page}]
            body = json.dumps(items).encode()
            self.send_response(200)
            if page == 1:
                port = self.server.server_address[1]
                self.send_header("Link", f'<http://127.0.0.1:{port}/api/models/a/b/tree/main?cursor=2>; rel="next"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self._head(404, 0)

    def _head(self, status: int, length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, list[tuple[str, str]]]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    seen: list[tuple[str, str]] = []
    httpd.seen = seen  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    client = Upstream(f"http://127.0.0.1:{httpd.server_address[1]}", AddressRules(allow_hosts=["127.0.0.1"]), timeout=5)
    yield client, seen
    client.close()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_body_cut_short_keeps_part_for_resume(upstream: tuple[Upstream, list[tuple[str, str]]], tmp_path: Path) -> None:
    client, seen = upstream
    dest = tmp_path / "obj"
    with pytest.raises(UpstreamUnavailable) as caught:
        client.download("/cut", dest, expected_sha256=SHA, size=len(DATA))
    assert caught.value.code == "UpstreamUnavailable" and "broke off" in caught.value.message
    assert not dest.exists()
    part = tmp_path / "obj.part"
    assert part.read_bytes() == DATA[: part.stat().st_size] and 0 < part.stat().st_size < len(DATA)
    kept = part.stat().st_size
    client.download("/ranged", dest, expected_sha256=SHA, size=len(DATA))
    assert dest.read_bytes() == DATA and not part.exists()
    assert seen[-1] == ("/ranged", f"bytes={kept}-")


def test_server_ignoring_range_starts_over(upstream: tuple[Upstream, list[tuple[str, str]]], tmp_path: Path) -> None:
    client, _seen = upstream
    (tmp_path / "obj.part").write_bytes(b"x" * 1000)  # not even the right bytes: replaced, not appended to
    client.download("/norange", tmp_path / "obj", expected_sha256=SHA, size=len(DATA))
    assert (tmp_path / "obj").read_bytes() == DATA


def test_corrupt_part_prefix_is_caught_and_removed(
    upstream: tuple[Upstream, list[tuple[str, str]]], tmp_path: Path
) -> None:
    client, _seen = upstream
    (tmp_path / "obj.part").write_bytes(b"x" * 1000)  # a resumed download over a damaged prefix
    with pytest.raises(UpstreamCorrupt):
        client.download("/ranged", tmp_path / "obj", expected_sha256=SHA, size=len(DATA))
    assert list(tmp_path.iterdir()) == []


def test_server_error_is_unavailable_with_its_reason(
    upstream: tuple[Upstream, list[tuple[str, str]]], tmp_path: Path
) -> None:
    client, _seen = upstream
    with pytest.raises(UpstreamUnavailable) as caught:
        client.download("/boom", tmp_path / "obj", expected_sha256=SHA, size=len(DATA))
    assert caught.value.upstream_status == 503 and "disk on fire" in caught.value.message
    assert caught.value.status == 502
    assert list(tmp_path.iterdir()) == []


def test_list_tree_follows_link_pages(upstream: tuple[Upstream, list[tuple[str, str]]]) -> None:
    client, seen = upstream
    entries = client.list_tree("model", "a/b", "main")
    assert [(e.path, e.size) for e in entries] == [("f1.txt", 1), ("f2.txt", 2)]
    assert [path for path, _ in seen] == [
        "/api/models/a/b/tree/main?recursive=true",
        "/api/models/a/b/tree/main?cursor=2",
    ]
