"""The endpoint gateway: each inference endpoint's stable, OpenAI-compatible URL on the hub,
`/endpoints/{owner}/{name}/v1/{models, chat/completions, completions, embeddings}`.

A request is authorized with the hub's own credentials (a token as the Bearer key, or the portal's
session), checked for shape, and carried to one of the endpoint's healthy replicas (the compute
service says which: services/compute) by gateway_relay.py; every answer, the refusals included, is in
OpenAI's terms (openai_shapes.py). What the request cost is recorded after the answer has gone out.

These routes are OpenAI's protocol, not the hub's API: like git's and LFS's, they stay out of
/api/openapi.json (OpenAI documents them).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError
from csghub.http.bodies import parse_json
from csghub.http.deps import get_actor, get_hub
from csghub.services.compute import routes as endpoint_routes
from csghub.services.compute import scaling
from csghub.services.compute.routes import Route
from csghub.services.context import Hub
from csghub.services.permissions import Actor
from csghub.transport import openai_shapes as shapes
from csghub.transport.gateway_relay import Meter, Relay, UpstreamTooLarge, answer_stream, answer_whole, renamer
from csghub.transport.gateway_usage import UsageBook

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
PREFIX = "/endpoints/{owner}/{name}/v1"
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


async def _route(request: Request, owner: str, name: str) -> tuple[Hub, Actor, Route]:
    hub = get_hub(request)
    actor = await get_actor(request)
    # Most requests find the route at hand and skip the hop to a worker thread; it is authorized either way.
    route = endpoint_routes.cached_route(hub, actor, owner, name)
    if route is None:
        route = await run_in_threadpool(endpoint_routes.route_for, hub, actor, owner, name)
    return hub, actor, route


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _failed(hub: Hub, endpoint_id: int, url: str) -> None:
    """A replica refused a request: the compute service hears of it and routes no more to it."""
    endpoint_routes.mark_replica_failed(hub, endpoint_id, url)


@router.get(PREFIX + "/models")
async def list_models(request: Request, owner: str, name: str) -> Response:
    try:
        _, _, route = await _route(request, owner, name)
    except HubError as exc:
        return shapes.from_hub_error(exc)
    model = {"id": route.public_model, "object": "model", "created": 0, "owned_by": owner}
    return JSONResponse({"object": "list", "data": [model]})


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = parse_json(raw)
    except HubError as exc:
        raise shapes.BadRequest(f"{exc.message}: send a JSON object") from None
    if not isinstance(body, dict):
        raise shapes.BadRequest("The request body must be a JSON object")
    return body


async def _forward(request: Request, owner: str, name: str, path: str) -> Response:
    kind, check = _CHECKS[path]
    try:
        hub, actor, route = await _route(request, owner, name)
        if route.kind != kind:
            what = "an embedding model" if route.kind == "embeddings" else "a text generation model"
            raise shapes.BadRequest(f"{route.public_model} serves {what}; {path} is not available on it")
        body = _body(await request.body())
        check(body, hub)
    except HubError as exc:
        return shapes.from_hub_error(exc)
    body["model"] = route.served_model  # clients may name it anything; the engine knows only its own name
    stream = body.get("stream") is True
    meter = Meter()
    relay, book = _gateway(request).relay, _gateway(request).book
    # In flight until answered, for autoscaling (services/compute/scaling.py).
    ticket = scaling.begin_request(hub, route.endpoint_id)
    done = BackgroundTask(_answered, book, hub, route.endpoint_id, actor, meter, ticket)
    try:
        upstream = await relay.open(
            relay.order(route.endpoint_id, route.urls),
            path,
            json.dumps(body).encode(),
            lambda url: _failed(hub, route.endpoint_id, url),
        )
    except ConnectionError as exc:
        log.warning("endpoint %s: %s", route.public_model, exc)
        refusal = shapes.openai_error(
            503, f"No replica of {route.public_model} answered; retry shortly", code="no_healthy_replica", retry_after=5
        )
        refusal.background = done
        return refusal
    rename = renamer(route.served_model, route.public_model)
    answer: Response
    try:
        if stream:
            return await answer_stream(upstream, rename, meter, done)
        answer = await answer_whole(upstream, rename, meter)
    except UpstreamTooLarge:
        answer = shapes.openai_error(502, "The model server's answer is too large", code="upstream_error")
    answer.background = done
    return answer


async def _answered(book: UsageBook, hub: Hub, endpoint_id: int, actor: Actor, meter: Meter, ticket: int) -> None:
    scaling.end_request(hub, endpoint_id, ticket)
    await book.add(hub, endpoint_id, actor, meter)


@router.post(PREFIX + "/chat/completions")
async def chat_completions(request: Request, owner: str, name: str) -> Response:
    return await _forward(request, owner, name, "/v1/chat/completions")


@router.post(PREFIX + "/completions")
async def completions(request: Request, owner: str, name: str) -> Response:
    return await _forward(request, owner, name, "/v1/completions")


@router.post(PREFIX + "/embeddings")
async def embeddings(request: Request, owner: str, name: str) -> Response:
    return await _forward(request, owner, name, "/v1/embeddings")
