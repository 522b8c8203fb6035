"""The endpoint gateway: each inference endpoint's stable, OpenAI-compatible URL on the hub,
`/endpoints/{owner}/{name}/v1/{models, chat/completions, completions, embeddings}`.

A request is authorized with the hub's own credentials (a token as the Bearer key, or the portal's
session), checked for shape, and carried to one of the endpoint's healthy replicas (the compute
service says which: services/compute) by gateway_relay.py; every answer, the refusals included, is in
OpenAI's terms (openai_shapes.py). What the request cost is recorded once the answer has gone out, or
the client has.

These routes are OpenAI's protocol, not the hub's API: like git's and LFS's, they stay out of
/api/openapi.json (OpenAI documents them). They are answered by an ASGI layer of their own
(GatewayMiddleware, near the outside of the app) rather than by the router: a gateway request needs none
of the layers inside it (HTML security headers, the buffering body bound, exception pages, routing,
dependencies), and those cost more hub CPU than the relay itself (benches/bench_endpoints.py). What the
layers did that a gateway request does need is done here: the body is bounded as it is read (a declared
length past the bound is refused before reading anything), with the hub's shared body memory and the
client timeout; and the caller is authorized on every request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from csghub.core.errors import HubError
from csghub.http.bodies import BodyMemory, BodyShare, parse_json
from csghub.http.deps import get_actor
from csghub.services.compute import routes as endpoint_routes
from csghub.services.compute import scaling
from csghub.services.compute.routes import Route
from csghub.services.context import Hub
from csghub.services.permissions import Actor
from csghub.transport import openai_shapes as shapes
from csghub.transport.gateway_relay import Meter, Relay, UpstreamTooLarge, answer_stream, answer_whole, renamer
from csghub.transport.gateway_usage import UsageBook

log = logging.getLogger(__name__)
PREFIX = "/endpoints/{owner}/{name}/v1"
_PATH = re.compile(r"/endpoints/([^/]+)/([^/]+)(/v1/(?:models|chat/completions|completions|embeddings))")
# Inputs of one embeddings request (OpenAI's own limit is 2048).
MAX_EMBEDDING_INPUTS = 2048
# What each route serves, and the check of its request.
Check = Callable[[dict[str, Any], Hub], None]
_CHECKS: dict[str, tuple[str, Check]] = {
    "/v1/chat/completions": ("chat", lambda body, hub: shapes.check_chat(body, hub.settings.gateway_max_tokens)),
    "/v1/completions": ("chat", lambda body, hub: shapes.check_completion(body, hub.settings.gateway_max_tokens)),
    "/v1/embeddings": ("embeddings", lambda body, hub: shapes.check_embedding(body, MAX_EMBEDDING_INPUTS)),
}


@dataclass(frozen=True, slots=True)
class Gateway:
    """What the gateway keeps while the app runs: its client to replicas and the usage still to write."""

    relay: Relay
    book: UsageBook

    async def aclose(self) -> None:
        await self.book.aclose()
        await self.relay.aclose()


def make_gateway(hub: Hub) -> Gateway:
    """The app's gateway state (app.state.gateway); the lifespan closes it when the app stops."""
    return Gateway(Relay(timeout=float(hub.settings.gateway_timeout)), UsageBook())


class _Refused(Exception):
    """The request body was refused while being read: the answer closes the connection."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


class _Gone(Exception):
    """The client went away before sending its whole body."""


@dataclass(frozen=True, slots=True)
class BodyBound:
    limit: int  # bytes a request body may have (the hub's JSON body bound)
    timeout: float  # seconds the client may pause while sending it
    memory: BodyMemory  # bodies held across all requests (shared with the app's body limits)


class GatewayMiddleware:
    """Answers /endpoints/{owner}/{name}/v1/... before the layers inside it; passes anything else on."""

    def __init__(self, app: ASGIApp, *, hub: Hub, gateway: Gateway, bound: BodyBound) -> None:
        self.app = app
        self.hub = hub
        self.gateway = gateway
        self.bound = bound

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"] if scope["type"] == "http" else ""
        match = _PATH.fullmatch(path) if path.startswith("/endpoints/") else None
        if match is None:
            await self.app(scope, receive, send)
            return
        owner, name, route_path = match.groups()
        request = Request(scope, receive)
        answer: Response
        under_way: _UnderWay | None = None
        if route_path == "/v1/models":
            if scope["method"] in ("GET", "HEAD"):
                answer = await self._models(request, owner, name)
            else:
                answer = _not_allowed("GET")
        elif scope["method"] == "POST":
            share = self.bound.memory.share()
            try:
                answer, under_way = await self._forward(request, owner, name, route_path, share)
            except _Gone:
                return  # no one is left to answer
            finally:
                share.release()
        else:
            answer = _not_allowed("POST")
        try:
            await answer(scope, receive, send)
        finally:
            # Also when the client left mid-answer: Starlette skips a response's background task then (ASGI
            # spec 2.4), and a stream left suspended would hold the replica's connection.
            if under_way is not None:
                with anyio.CancelScope(shield=True):
                    await under_way.finish()

    async def _route(self, request: Request, owner: str, name: str) -> tuple[Actor, Route]:
        actor = await get_actor(request)
        # Most requests find the route at hand and skip the hop to a worker thread; it is authorized either way.
        route = endpoint_routes.cached_route(self.hub, actor, owner, name)
        if route is None:
            route = await run_in_threadpool(endpoint_routes.route_for, self.hub, actor, owner, name)
        return actor, route

    async def _models(self, request: Request, owner: str, name: str) -> Response:
        try:
            _, route = await self._route(request, owner, name)
        except HubError as exc:
            return shapes.from_hub_error(exc)
        model = {"id": route.public_model, "object": "model", "created": 0, "owned_by": owner}
        return JSONResponse({"object": "list", "data": [model]})

    async def _forward(
        self, request: Request, owner: str, name: str, path: str, share: BodyShare
    ) -> tuple[Response, _UnderWay | None]:
        kind, check = _CHECKS[path]
        hub = self.hub
        try:
            actor, route = await self._route(request, owner, name)
            if route.kind != kind:
                what = "an embedding model" if route.kind == "embeddings" else "a text generation model"
                raise shapes.BadRequest(f"{route.public_model} serves {what}; {path} is not available on it")
            body = _body(await _read_body(request, self.bound, share))
            check(body, hub)
        except HubError as exc:
            return shapes.from_hub_error(exc), None
        except _Refused as exc:
            refusal = shapes.openai_error(exc.status, exc.message)
            refusal.headers["connection"] = "close"  # the unread rest of the body is not a next request
            return refusal, None
        body["model"] = route.served_model  # clients may name it anything; the engine knows only its own name
        stream = body.get("stream") is True
        relay = self.gateway.relay
        # In flight until answered, for autoscaling (services/compute/scaling.py).
        under_way = _UnderWay(
            self.gateway.book, hub, route.endpoint_id, actor, scaling.begin_request(hub, route.endpoint_id)
        )
        try:
            try:
                upstream = await relay.open(
                    relay.order(route.endpoint_id, route.urls),
                    path,
                    json.dumps(body).encode(),
                    lambda url: endpoint_routes.mark_replica_failed(hub, route.endpoint_id, url),
                )
            except ConnectionError as exc:
                log.warning("endpoint %s: %s", route.public_model, exc)
                refusal = shapes.openai_error(
                    503,
                    f"No replica of {route.public_model} answered; retry shortly",
                    code="no_healthy_replica",
                    retry_after=5,
                )
                return refusal, under_way
            rename = renamer(route.served_model, route.public_model)
            try:
                if stream:
                    answer, under_way.stream = await answer_stream(upstream, rename, under_way.meter)
                    return answer, under_way
                return await answer_whole(upstream, rename, under_way.meter), under_way
            except UpstreamTooLarge:
                too_large = shapes.openai_error(502, "The model server's answer is too large", code="upstream_error")
                return too_large, under_way
        except BaseException:  # no answer to send: the request ends here
            await under_way.finish()
            raise


@dataclass(slots=True)
class _UnderWay:
    """A request carried to a replica: counted in flight until `finish`, which records what it cost."""

    book: UsageBook
    hub: Hub
    endpoint_id: int
    actor: Actor
    ticket: int
    meter: Meter = field(default_factory=Meter)
    stream: AsyncGenerator[bytes, None] | None = None

    async def finish(self) -> None:
        try:
            if self.stream is not None:
                # A client gone mid-stream may leave the stream suspended: closing it drops the connection
                # to the replica (an engine that watches it, such as vLLM, stops generating).
                await self.stream.aclose()
        finally:
            scaling.end_request(self.hub, self.endpoint_id, self.ticket)
            await self.book.add(self.hub, self.endpoint_id, self.actor, self.meter)


def _not_allowed(allowed: str) -> Response:
    answer = shapes.openai_error(405, f"Method not allowed here: use {allowed}")
    answer.headers["allow"] = allowed
    return answer


async def _read_body(request: Request, bound: BodyBound, share: BodyShare) -> bytes:
    """The body, bounded before and while it is read: a declared length past the bound is refused
    unread, and reading stops as soon as the bytes received pass it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > bound.limit:
        raise _Refused(413, _too_large(bound.limit, int(declared)))
    receive: Callable[[], Awaitable[Any]] = request.receive
    pieces = bytearray()
    while True:
        try:
            async with asyncio.timeout(bound.timeout):
                message = await receive()
        except TimeoutError:
            raise _Refused(408, f"Request body not received within {bound.timeout:g} seconds") from None
        if message["type"] != "http.request":
            raise _Gone
        chunk: bytes = message.get("body", b"")
        if len(pieces) + len(chunk) > bound.limit:
            raise _Refused(413, _too_large(bound.limit))
        share.take(len(chunk))  # ServiceUnavailable when the hub holds as many bodies as it may
        pieces += chunk
        if not message.get("more_body", False):
            return bytes(pieces)


def _too_large(limit: int, declared: int | None = None) -> str:
    size = f"of {declared} bytes " if declared is not None else ""
    return f"Request body {size}exceeds the {limit} bytes an endpoint accepts"


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = parse_json(raw)
    except HubError as exc:
        raise shapes.BadRequest(f"{exc.message}: send a JSON object") from None
    if not isinstance(body, dict):
        raise shapes.BadRequest("The request body must be a JSON object")
    return body
