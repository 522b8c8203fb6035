"""The outermost of the hub's own layers (inside /health only): gives every request its id, counts what
the connection receives and sends, and on the way out records the request in the metrics and the access
log.

A pure ASGI layer: it wraps `receive` and `send` and only reads the lengths of the messages that pass,
never a body, so streamed uploads and downloads (sendfile included) flow as before. The route is read
from the scope after the router has run (FastAPI puts the matched route there), so labels are templates.
"""

from __future__ import annotations

import os
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from csghub.core import request_ids
from csghub.core.logs import AccessSink
from csghub.http.access_log import Clock, json_line, protocol_of, target_of, template_of, text_line, transfer_of
from csghub.http.sendfile import ZEROCOPY
from csghub.services.observability.metrics import Metrics

_ID_HEADER = b"x-request-id"
# Methods named as they are in labels; any other (WebDAV's, made-up ones) counts as OTHER, so a client
# cannot add series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _zerocopy_size(message: Message) -> int:
    count = message.get("count")
    if count is not None:
        return int(count)
    return os.fstat(message["file"].fileno()).st_size - int(message.get("offset", 0))


class ObserveMiddleware:
    def __init__(
        self, app: ASGIApp, *, metrics: Metrics | None, access_log: str, sink: AccessSink | None = None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_format = access_log  # "text" | "json" | "off"
        self.sink = sink or AccessSink()
        self.ids = request_ids.IdMaker()
        self.clock = Clock()
        # (method, route template) -> (protocol, transfer operation): bounded by the routes the hub has.
        self._kinds: dict[tuple[str, str], tuple[str, str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent_id = next((value for name, value in scope["headers"] if name == _ID_HEADER), None)
        request_id = request_ids.accept(sent_id.decode("latin-1") if sent_id is not None else None, self.ids)
        # Not reset afterwards: each request runs in a task of its own, and the error page of an unexpected
        # exception (rendered outside this layer) still names the request.
        request_ids.current.set(request_id)
        id_header = (_ID_HEADER, request_id.encode())
        started = time.perf_counter()
        received = 0
        sent = 0
        status = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            nonlocal sent, status
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                headers = [item for item in message.get("headers", ()) if item[0].lower() != _ID_HEADER]
                message = {**message, "headers": [*headers, id_header]}
            elif kind == "http.response.body":
                sent += len(message.get("body", b""))
            elif kind == ZEROCOPY:
                sent += _zerocopy_size(message)
            await send(message)

        if self.metrics is not None:
            self.metrics.record.started()
        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            # An exception that escaped every handler is answered 500 by the server's outermost layer.
            self._record(scope, request_id, status or 500, received, sent, time.perf_counter() - started)

    def _record(self, scope: Scope, request_id: str, status: int, received: int, sent: int, seconds: float) -> None:
        path: str = scope["path"]
        method: str = scope["method"] if scope["method"] in _METHODS else "OTHER"
        route = template_of(scope.get("route"), path)
        kind = self._kinds.get((method, route))
        if kind is None:
            kind = (protocol_of(route), transfer_of(method, route))
            if route != "unmatched":
                self._kinds[(method, route)] = kind
        if self.metrics is not None:
            record = self.metrics.record
            record.observe_request(route, method, status, seconds)
            record.count_bytes(kind[0], received, sent)
            if kind[1] and 200 <= status < 300:
                record.count_transfer(kind[0], kind[1])
        if self.access_format != "off":
            self._log(scope, request_id, route, status, received, sent, seconds)

    def _log(
        self, scope: Scope, request_id: str, route: str, status: int, received: int, sent: int, seconds: float
    ) -> None:
        state = scope.get("state")
        actor = state.get("actor") if state else None
        client = scope.get("client")
        query: bytes = scope.get("query_string", b"")
        line = text_line if self.access_format == "text" else json_line
        self.sink.write(
            line(
                self.clock.stamp(),
                request_id,
                client[0] if client else "",
                getattr(actor, "name", "") or "",
                scope["method"],
                target_of(scope["path"], query.decode("latin-1") if query else ""),
                route,
                status,
                received,
                sent,
                seconds,
            )
        )
