"""The notebooks' door: `/notebooks/{owner}/{name}/...` on the hub is the notebook's JupyterLab, its
HTTP and its WebSockets (kernels, terminals) relayed to its replica (app_relay.py).

Jupyter runs with no token or password of its own, so this layer is its only authorization: every
request and every WebSocket is authorized with the hub's own credentials (the portal's session cookie
or a token), for the owner namespace's members only (services/compute/notebooks.py); anyone else gets
404, a notebook that is not running a 503, both as the hub's JSON errors. Because Jupyter checks no
XSRF token here, a request authorized by the session cookie that can change something (a POST, a
WebSocket) must come from the hub's own pages: its Origin must be the hub's (a cross-site form or
script cannot forge that), and the session cookie is SameSite=Lax besides.

Like the endpoint gateway, an ASGI layer of its own near the outside of the app: a notebook's page
loads a hundred files and keeps sockets open, and needs none of the hub's inner layers."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from csghub.core.errors import HubError, PermissionDenied, ServiceUnavailable, TooLarge
from csghub.http.deps import SESSION_COOKIE, base_url, get_actor
from csghub.services.compute import notebooks
from csghub.services.context import Hub
from csghub.transport.app_relay import MAX_BODY, AppRelay, BodyTooLarge, ClientGone, refuse

log = logging.getLogger(__name__)
_PATH = re.compile(rb"/notebooks/([A-Za-z0-9][A-Za-z0-9_.-]*)/([A-Za-z0-9][A-Za-z0-9_-]*)(/.*)?", re.DOTALL)
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class NotebookProxyMiddleware:
    """Answers /notebooks/{owner}/{name}/... (HTTP and WebSocket); passes anything else on."""

    def __init__(self, app: ASGIApp, *, hub: Hub, relay: AppRelay) -> None:
        self.app = app
        self.hub = hub
        self.relay = relay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        path: str = scope.get("path", "") if kind in ("http", "websocket") else ""
        if not path.startswith("/notebooks/"):
            await self.app(scope, receive, send)
            return
        raw: bytes = scope.get("raw_path") or path.encode()
        match = _PATH.fullmatch(raw.split(b"?", 1)[0])
        if match is None:
            await self.app(scope, receive, send)
            return
        owner, name = match.group(1).decode(), match.group(2).decode()
        rest = match.group(3)
        if rest is None:  # Jupyter's pages are under its base URL, which ends with a slash
            if kind == "http":
                await RedirectResponse(f"{path}/", status_code=307)(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        try:
            route = await self._route(scope, receive, owner, name)
        except HubError as exc:
            await refuse(scope, receive, send, exc)
            return
        query = scope.get("query_string", b"")
        target = (
            route.url + route.base_url + rest.decode("latin-1")[1:] + (f"?{query.decode('latin-1')}" if query else "")
        )
        if kind == "websocket":
            if not await self.relay.websocket(scope, receive, send, "ws" + target.removeprefix("http")):
                refusal = ServiceUnavailable(f"Notebook {owner}/{name} refused the connection")
                await refuse(scope, receive, send, refusal)
            return
        try:
            await self.relay.http(scope, receive, send, target)
        except BodyTooLarge:
            await refuse(
                scope, receive, send, TooLarge(f"Request body exceeds the {MAX_BODY} bytes a notebook accepts")
            )
        except ClientGone:
            return
        except ConnectionError as exc:
            log.warning("notebook %s/%s did not answer: %s", owner, name, exc)
            await refuse(scope, receive, send, ServiceUnavailable(f"Notebook {owner}/{name} is not answering"))

    async def _route(self, scope: Scope, receive: Receive, owner: str, name: str) -> notebooks.NotebookRoute:
        # A WebSocket's handshake is a GET; the hub's credential readers take it as one.
        http_scope = scope if scope["type"] == "http" else {**scope, "type": "http", "method": "GET"}
        request = Request(http_scope, receive)
        by_cookie = not request.headers.get("authorization") and SESSION_COOKIE in request.cookies
        unsafe = scope["type"] == "websocket" or request.method not in _SAFE
        if by_cookie and unsafe:
            _check_origin(request)
            request.state.csrf_ok = True  # checked here, by Origin: Jupyter's pages know no hub CSRF token
        actor = await get_actor(request)
        return await run_in_threadpool(notebooks.notebook_route, self.hub, actor, owner, name)


def _check_origin(request: Request) -> None:
    """The request comes from a page of this hub (browsers send Origin with every POST, PUT, DELETE and
    WebSocket; a client that is not a browser and sends the session cookie sends none)."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    # The hub's own address: the one the request was sent to, or the configured public one (behind a
    # proxy that changes Host).
    own = {request.headers.get("host", "").lower(), urlsplit(base_url(request)).netloc.lower()}
    if urlsplit(origin).netloc.lower() not in own:
        raise PermissionDenied("Cross-site request to a notebook refused", code="CsrfFailed")
