"""The spaces' door: `/apps/{owner}/{name}/...` on the hub is the space's app. A Gradio or Streamlit
app's HTTP, Server-Sent Events and WebSockets are relayed to its healthy replica (app_relay.py); a static
space's files are served from its repository at the running commit; a space that is not running
answers with a page (space_pages.py) that says why, wakes a sleeping one and refreshes until it runs.

An app is untrusted code served from the hub's own origin. Every answer carries the
`Content-Security-Policy: sandbox ...` header (no allow-same-origin): the app's documents get an opaque
origin, so their scripts cannot read the hub's pages or API with the visitor's session, nor the
cookies, and their requests to the hub are cross-site (the session cookie is SameSite=Lax: it stays
home). The app's own requests then come from origin `null`: they get CORS headers without credentials,
and preflights are answered here. The app never sees the hub's cookies or Authorization header, and
cannot set or clear cookies on the hub's origin (Set-Cookie and Clear-Site-Data are dropped).

Public spaces are open to anyone. A private one needs a visitor who may read its repository: a client
with a token sends it (Authorization); a browser opens the app with a navigation that carries the
session cookie, and is sent on to `/apps/{owner}/{name}/~{capability}/` (services/spaces/routing.py),
whose capability authorizes every later request of the sandboxed pages. An app that writes absolute
URLs from its base path (Gradio's root URL, in its page, its config and its events) would drop the
capability: the door writes it into those URLs in the app's answers as they stream. A request without
one in its path is also authorized by one in its Referer, where a browser sends it. Anything refused is
the hub's 404, as for a space that does not exist."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from csghub.core.errors import HubError, NotFound, ServiceUnavailable, TooLarge, Unauthenticated
from csghub.http.deps import SESSION_COOKIE, get_actor
from csghub.services.context import Hub
from csghub.services.permissions import ANONYMOUS, Actor
from csghub.services.spaces import lifecycle, routing
from csghub.transport import space_pages
from csghub.transport.app_relay import MAX_BODY, AppRelay, BodyTooLarge, ClientGone, Headers
from csghub.transport.space_pages import app_headers, capability_in_urls, preflight

log = logging.getLogger(__name__)
_PATH = re.compile(rb"/apps/([A-Za-z0-9][A-Za-z0-9_.-]*)/([A-Za-z0-9][A-Za-z0-9_.-]*)(/.*)?", re.DOTALL)
_CAPABILITY = re.compile(r"/~([A-Za-z0-9_-]+\.[0-9a-f]{64})(/.*)?", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Door:
    route: routing.SpaceRoute
    actor: Actor
    prefix: str  # the app's address as the browser uses it: "/apps/o/n/" or "/apps/o/n/~cap/"


class _Redirect(Exception):
    def __init__(self, location: str) -> None:
        self.location = location


class SpaceProxyMiddleware:
    """Answers /apps/{owner}/{name}/... (HTTP and WebSocket); passes anything else on."""

    def __init__(self, app: ASGIApp, *, hub: Hub, relay: AppRelay) -> None:
        self.app = app
        self.hub = hub
        self.relay = relay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        path: str = scope.get("path", "") if kind in ("http", "websocket") else ""
        if not path.startswith(routing.PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        raw: bytes = scope.get("raw_path") or path.encode()
        match = _PATH.fullmatch(raw.split(b"?", 1)[0])
        if match is None:
            await self.app(scope, receive, send)
            return
        owner, name = match.group(1).decode(), match.group(2).decode()
        rest = match.group(3).decode("latin-1") if match.group(3) is not None else None
        query = scope.get("query_string", b"").decode("latin-1")
        if rest is None:  # the app's pages live under its base path, which ends with a slash
            await _redirect(scope, receive, send, f"{path}/" + (f"?{query}" if query else ""))
            return
        capability = ""
        found = _CAPABILITY.fullmatch(rest)
        if found is not None:
            capability, rest = found.group(1), found.group(2) or "/"
        answer = preflight(scope) if kind == "http" else None
        if answer is not None:  # carries no credentials by design: the same answer for every path
            await answer(scope, receive, send)
            return
        try:
            door = await self._open(scope, receive, owner, name, capability, rest + (f"?{query}" if query else ""))
        except _Redirect as redirect:
            await _redirect(scope, receive, send, redirect.location, cors=False)
            return
        except HubError as exc:
            await space_pages.refuse(scope, receive, send, exc)
            return
        route = door.route
        if not route.ready:
            if route.state == routing.SLEEPING:
                try:
                    await run_in_threadpool(lifecycle.wake, self.hub, door.actor, route.owner, route.name)
                except HubError as exc:  # the page says it sleeps; the next visit tries again
                    log.warning("waking space %s/%s failed: %s", route.owner, route.name, exc.message)
            await space_pages.not_ready(scope, receive, send, route)
            return
        lifecycle.touch(self.hub, route.instance_id)
        if route.static:
            await space_pages.serve_static(self.hub, scope, receive, send, route, rest)
            return
        await self._relay(scope, receive, send, door, rest, query)

    async def _open(self, scope: Scope, receive: Receive, owner: str, name: str, capability: str, rest: str) -> Door:
        """The space and who asks, or _Redirect to the app's address with a fresh capability."""
        if capability:
            found = routing.cached_capability_route(self.hub, capability, owner, name)
            if found is None:
                found = await run_in_threadpool(routing.capability_route, self.hub, capability, owner, name)
            return Door(found[0], found[1], f"{found[0].base_url}~{capability}/")
        http_scope = scope if scope["type"] == "http" else {**scope, "type": "http", "method": "GET"}
        request = Request(http_scope, receive)
        if request.headers.get("authorization"):  # a client with a token (a browser's pages have none)
            actor = await get_actor(request)
            route = await run_in_threadpool(routing.space_route, self.hub, actor, owner, name)
            return Door(route, actor, route.base_url)
        try:
            public = routing.cached_space_route(self.hub, ANONYMOUS, owner, name)
            if public is None:
                public = await run_in_threadpool(routing.space_route, self.hub, ANONYMOUS, owner, name)
            return Door(public, ANONYMOUS, public.base_url)
        except NotFound:
            referred = _referer_capability(request, owner, name)
            if referred:
                route, visitor = await run_in_threadpool(routing.capability_route, self.hub, referred, owner, name)
                return Door(route, visitor, f"{route.base_url}~{referred}/")
            if not (_navigation(request) and SESSION_COOKIE in request.cookies):
                raise
        try:
            actor = await get_actor(request)
        except Unauthenticated:
            raise NotFound(f"Space not found: {owner}/{name}", code="RepoNotFound") from None
        route = await run_in_threadpool(routing.space_route, self.hub, actor, owner, name)
        token = routing.issue_capability(self.hub, actor, route)
        raise _Redirect(f"{route.base_url}~{token}{rest}")

    async def _relay(self, scope: Scope, receive: Receive, send: Send, door: Door, rest: str, query: str) -> None:
        route = door.route
        target = route.url + route.base_url + rest[1:] + (f"?{query}" if query else "")
        request_host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        forwarded: tuple[tuple[str, str], ...] = (
            ("x-forwarded-host", request_host),
            ("x-forwarded-proto", "https" if scope.get("scheme") in ("https", "wss") else "http"),
            ("x-forwarded-prefix", door.prefix.rstrip("/")),
        )
        if scope["type"] == "websocket":
            ws = "ws" + target.removeprefix("http")
            if not await self.relay.websocket(scope, receive, send, ws, cookies=False, extra=forwarded):
                refusal = ServiceUnavailable(f"Space {route.owner}/{route.name} refused the connection")
                await space_pages.refuse(scope, receive, send, refusal)
            return

        def rewrite(status: int, headers: Headers) -> Headers:
            return app_headers(headers, route, door.prefix)

        body = None
        if door.prefix != route.base_url:  # a private space's capability: kept in the URLs the app writes
            public = f"{forwarded[1][1]}://{request_host}"
            body = capability_in_urls(public, route.base_url, door.prefix)
            forwarded += (("accept-encoding", "identity"),)  # bodies it can read
        try:
            await self.relay.http(
                scope, receive, send, target, cookies=False, extra=forwarded, rewrite=rewrite, body=body
            )
        except BodyTooLarge:
            too_large = TooLarge(f"Request body exceeds the {MAX_BODY} bytes a space accepts")
            await space_pages.refuse(scope, receive, send, too_large)
        except ClientGone:
            return
        except ConnectionError as exc:
            log.warning("space %s/%s did not answer: %s", route.owner, route.name, exc)
            gone = ServiceUnavailable(f"Space {route.owner}/{route.name} is not answering", code="SpaceNotRunning")
            await space_pages.refuse(scope, receive, send, gone)


def _navigation(request: Request) -> bool:
    """A browser opening the app (a page, the space page's iframe, an address typed in), not a script's
    request nor a page of another site: only then does the session cookie count."""
    if request.method != "GET":
        return False
    mode = request.headers.get("sec-fetch-mode", "navigate")
    site = request.headers.get("sec-fetch-site", "none")
    dest = request.headers.get("sec-fetch-dest", "document")
    return mode == "navigate" and site in ("same-origin", "none") and dest in ("document", "iframe")


def _referer_capability(request: Request, owner: str, name: str) -> str:
    """The capability in the Referer's path when it is this space's app address on this hub."""
    referer = request.headers.get("referer", "")
    if not referer:
        return ""
    parts = urlsplit(referer)
    if parts.netloc.lower() != request.headers.get("host", "").lower():
        return ""
    prefix = f"{routing.PREFIX}/{owner}/{name}"
    if parts.path[: len(prefix)].lower() != prefix.lower():
        return ""
    found = _CAPABILITY.fullmatch(parts.path[len(prefix) :])
    return found.group(1) if found is not None else ""


async def _redirect(scope: Scope, receive: Receive, send: Send, location: str, *, cors: bool = True) -> None:
    if scope["type"] != "http":
        await send({"type": "websocket.close", "code": 1008})
        return
    answer: Response = RedirectResponse(location, status_code=307)
    answer.headers.update(space_pages.isolation_headers(cors=cors))
    answer.headers["cache-control"] = "no-store"
    await answer(scope, receive, send)
