"""GET/HEAD /health answered in the outermost layer of the application.

Probes call it every few seconds and it depends on nothing, so it skips routing, dependencies and every
other layer; what those cost is measured by the other routes (benches/bench_request_overhead.py).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

HEALTH_PATH = "/health"
_BODY = b'{"status":"ok"}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode())]


class HealthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != HEALTH_PATH or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else _BODY})
