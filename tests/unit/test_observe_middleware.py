"""The request layer around a tiny ASGI app: the id header replaces any the app set, bodies are counted as
they pass (never read), an escaped exception counts as a 500, odd methods add no series."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from prometheus_client import generate_latest

from csghub.core import request_ids
from csghub.core.logs import AccessSink
from csghub.http.observe import ObserveMiddleware
from csghub.services.observability.metrics import Metrics


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/boom":
        raise RuntimeError("boom")
    headers = [(b"x-request-id", b"from-the-app"), (b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": body[:3], "more_body": True})
    await send({"type": "http.response.body", "body": body[3:]})


def _call(layer: ObserveMiddleware, path: str, method: str = "POST", chunks: tuple[bytes, ...] = (b"",)) -> list:
    sent: list[dict[str, Any]] = []
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return pending.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [],
        "client": ("1.2.3.4", 9),
    }
    asyncio.run(layer(scope, receive, send))
    return sent


def test_bodies_are_counted_and_the_id_header_is_the_hubs() -> None:
    metrics, stream = Metrics(), io.StringIO()
    layer = ObserveMiddleware(_echo, metrics=metrics, access_log="text", sink=AccessSink(stream))
    sent = _call(layer, "/upload", chunks=(b"hello ", b"world"))
    headers = dict(sent[0]["headers"])
    assert list(dict(sent[0]["headers"])).count(b"x-request-id") == 1 and headers[b"x-request-id"] != b"from-the-app"
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"hello world"
    text = generate_latest(metrics.registry).decode()
    assert 'csghub_transfer_bytes_total{direction="in",protocol="web"} 11.0' in text
    assert 'csghub_transfer_bytes_total{direction="out",protocol="web"} 11.0' in text
    assert 'csghub_http_requests_total{method="POST",route="unmatched",status="201"} 1.0' in text
    assert "csghub_http_requests_in_flight 0.0" in text
    line = stream.getvalue()
    assert f' {headers[b"x-request-id"].decode()} 1.2.3.4 - "POST /upload" unmatched 201 in=11 out=11 ' in line


def test_an_escaped_exception_counts_as_a_500_and_odd_methods_as_other() -> None:
    metrics, stream = Metrics(), io.StringIO()
    layer = ObserveMiddleware(_echo, metrics=metrics, access_log="json", sink=AccessSink(stream))
    with pytest.raises(RuntimeError):
        _call(layer, "/boom", method="PROPFIND")
    text = generate_latest(metrics.registry).decode()
    assert 'csghub_http_requests_total{method="OTHER",route="unmatched",status="500"} 1.0' in text
    assert "PROPFIND" not in text
    assert '"status":500' in stream.getvalue() and '"method":"PROPFIND"' in stream.getvalue()
    assert request_ids.current_id() == ""  # each request ran in a context of its own
