"""What the spaces' door answers itself: the isolation headers every answer under /apps/ carries, the
CORS preflights of the app's sandboxed pages, a static space's files, the pages of a space that is not
running (building, waking up, stopped or failed: HTML for browsers, the hub's JSON error for other
clients), and refusals."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Iterator
from urllib.parse import unquote

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.datastructures import Headers as RequestHeaders
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from csghub.core.errors import EntryNotFound, HubError, InvalidArgument, NotFound, ServiceUnavailable
from csghub.http.errors import error_response
from csghub.services.context import Hub
from csghub.services.spaces import records, routing
from csghub.transport import app_relay
from csghub.transport.app_relay import BodyRewrite, Replacer

# The app's documents get an opaque origin: everything a page may do, except being the hub's origin.
SANDBOX = "sandbox allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads"
# What an app may not say about the hub's origin: its cookies, its storage, its transport security,
# and CORS (the door's own answer replaces the app's).
_DROPPED = frozenset(
    {
        b"set-cookie",
        b"set-cookie2",
        b"clear-site-data",
        b"strict-transport-security",
        b"service-worker-allowed",
        b"alt-svc",
        b"access-control-allow-origin",
        b"access-control-allow-credentials",
        b"access-control-allow-methods",
        b"access-control-allow-headers",
        b"access-control-max-age",
        b"access-control-expose-headers",
        b"referrer-policy",
    }
)
RETRY_SECONDS = 3


def isolation_headers(*, cors: bool = True) -> dict[str, str]:
    headers = {
        "content-security-policy": SANDBOX,
        "x-content-type-options": "nosniff",
        # The app's own requests name its address (and a private space's capability) to the hub, and
        # to nobody else.
        "referrer-policy": "same-origin",
    }
    if cors:
        headers |= {"access-control-allow-origin": "*", "access-control-expose-headers": "*"}
    return headers


def app_headers(
    headers: list[tuple[bytes, bytes]], route: routing.SpaceRoute, prefix: str
) -> list[tuple[bytes, bytes]]:
    """The app's answer headers as the browser gets them: isolated, redirects kept on the hub's address."""
    out: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name in _DROPPED:
            continue
        if name == b"location":
            value = _location(value.decode("latin-1"), route, prefix).encode("latin-1")
        out.append((name, value))
    out.extend((k.encode(), v.encode()) for k, v in isolation_headers().items())
    return out


_TEXT = (b"text/", b"application/json", b"application/javascript")


def capability_in_urls(public: str, base_url: str, prefix: str) -> BodyRewrite:
    """For an app's text answers (pages, JSON, events): its absolute URLs under `base_url`, as the app
    writes them from its root path, get the capability's `prefix` instead."""
    root, base, new = public.encode(), base_url.rstrip("/").encode(), prefix.rstrip("/").encode()
    pairs = (
        (root + base + b"/", root + new + b"/"),
        (root + base + b'"', root + new + b'"'),
        (b'"' + base + b"/", b'"' + new + b"/"),
    )

    def replacer(headers: list[tuple[bytes, bytes]]) -> Replacer | None:
        kind = next((v.lower() for k, v in headers if k == b"content-type"), b"")
        encoded = any(k == b"content-encoding" and v.lower() != b"identity" for k, v in headers)
        return Replacer(pairs) if kind.startswith(_TEXT) and not encoded else None

    return replacer


def _location(value: str, route: routing.SpaceRoute, prefix: str) -> str:
    """A redirect to the replica's own address or to the app's base path stays on the hub's address
    (a private space's with its capability)."""
    if route.url and value.startswith(route.url):
        value = value[len(route.url) :] or "/"
    if value.startswith(route.base_url) and prefix != route.base_url:
        value = prefix + value[len(route.base_url) :]
    return value


def preflight(scope: Scope) -> Response | None:
    """The answer to a CORS preflight (an OPTIONS with Access-Control-Request-Method); None otherwise.
    No credentials are allowed: the app's pages have none to send."""
    headers = RequestHeaders(scope=scope)
    if scope["method"] != "OPTIONS" or "access-control-request-method" not in headers:
        return None
    answer = Response(status_code=204)
    answer.headers.update(isolation_headers())
    answer.headers["access-control-allow-methods"] = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    requested = headers.get("access-control-request-headers")
    if requested:
        answer.headers["access-control-allow-headers"] = requested
    answer.headers["access-control-max-age"] = "600"
    return answer


async def refuse(scope: Scope, receive: Receive, send: Send, exc: HubError) -> None:
    await app_relay.refuse(scope, receive, send, exc, isolation_headers())


_TITLES = {
    records.BUILDING: "Building",
    records.RUNNING: "Starting",  # running, its replica not healthy (yet, or again)
    records.SLEEPING_STAGE: "Waking up",
    records.PAUSED: "Paused",
    records.STOPPED: "Stopped",
    records.BUILD_FAILED_STAGE: "Build failed",
    records.RUNTIME_ERROR: "Runtime error",
}


async def not_ready(scope: Scope, receive: Receive, send: Send, route: routing.SpaceRoute) -> None:
    """The space cannot answer now: a page that refreshes while it can become ready (building, waking
    up, starting), else one naming its state and reason; the hub's JSON 503 for other clients."""
    phase = "waking" if route.state == routing.SLEEPING else route.state
    retry = RETRY_SECONDS if route.can_become_ready else None
    label = _TITLES.get(route.state, route.state.capitalize())
    message = f"Space {route.owner}/{route.name} is {label.lower()}" + (f": {route.reason}" if route.reason else "")
    wants_html = scope["type"] == "http" and "text/html" in RequestHeaders(scope=scope).get("accept", "")
    if not wants_html:
        answer: Response = error_response(503, "SpaceNotRunning", message, retry_after=retry, extra={"state": phase})
        if scope["type"] != "http":
            await refuse(scope, receive, send, ServiceUnavailable(message, code="SpaceNotRunning"))
            return
        answer.headers.update(isolation_headers())
        await answer(scope, receive, send)
        return
    refresh = f'<meta http-equiv="refresh" content="{retry}">' if retry else ""
    reason = f"<pre>{html.escape(route.reason)}</pre>" if route.reason else ""
    note = "<p>This page reloads by itself.</p>" if retry else ""
    body = (
        f'<!doctype html><html><head><meta charset="utf-8">{refresh}<title>{html.escape(label)}</title>'
        "<style>body{font-family:system-ui,sans-serif;margin:3rem auto;max-width:40rem;color:#333}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:1rem;border-radius:6px}</style></head>"
        f'<body><h1 data-state="{html.escape(phase)}">{html.escape(label)}</h1>'
        f"<p>{html.escape(route.owner)}/{html.escape(route.name)}</p>{reason}{note}</body></html>"
    )
    page = HTMLResponse(body, status_code=503)
    page.headers.update(isolation_headers())
    page.headers["content-security-policy"] = f"{SANDBOX}; default-src 'none'; style-src 'unsafe-inline'"
    page.headers["cache-control"] = "no-store"
    if retry:
        page.headers["retry-after"] = str(retry)
    await page(scope, receive, send)


async def serve_static(
    hub: Hub, scope: Scope, receive: Receive, send: Send, route: routing.SpaceRoute, rest: str
) -> None:
    """A static space's file at its running commit (a folder: its index.html); ETag = the blob's id."""
    if scope["type"] != "http":
        await send({"type": "websocket.close", "code": 1008})
        return
    if scope["method"] not in ("GET", "HEAD"):
        refusal = error_response(405, "MethodNotAllowed", "A static space answers GET and HEAD only")
        refusal.headers.update(isolation_headers() | {"allow": "GET, HEAD"})
        await refusal(scope, receive, send)
        return
    path = unquote(rest[1:])  # the address is percent-encoded; file names are not
    try:
        found = await run_in_threadpool(routing.static_file, hub, route, path)
    except (EntryNotFound, InvalidArgument):
        if await run_in_threadpool(routing.static_folder, hub, route, path):
            query = scope.get("query_string", b"").decode("latin-1")
            answer: Response = Response(
                status_code=307, headers={"location": f"{_raw_path(scope)}/" + (f"?{query}" if query else "")}
            )
            answer.headers.update(isolation_headers())
            await answer(scope, receive, send)
            return
        await refuse(
            scope,
            receive,
            send,
            NotFound(f"'{path}' not found in space {route.owner}/{route.name}", code="EntryNotFound"),
        )
        return
    etag = f'"{found.etag}"'
    headers = {"etag": etag, "cache-control": "no-cache", **isolation_headers()}
    if etag in RequestHeaders(scope=scope).get("if-none-match", ""):
        await Response(status_code=304, headers=headers)(scope, receive, send)
        return
    headers["content-length"] = str(found.size)
    if scope["method"] == "HEAD":
        await Response(status_code=200, headers=headers, media_type=found.content_type)(scope, receive, send)
        return
    body = _aiter(found.chunks)
    await StreamingResponse(body, headers=headers, media_type=found.content_type)(scope, receive, send)


def _raw_path(scope: Scope) -> str:
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    return raw.split(b"?", 1)[0].decode("latin-1")


def _aiter(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    return iterate_in_threadpool(chunks)
