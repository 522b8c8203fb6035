"""HubError -> JSON with the X-Error-Code / X-Error-Message headers huggingface_hub turns into its errors."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from csghub.core import request_ids
from csghub.core.errors import AnswerNotReady, HubError, RateLimited

log = logging.getLogger(__name__)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def header_safe(message: str) -> str:
    """A header value from any text: control characters (which HTTP forbids there, so the server would drop
    the connection instead of answering) become spaces, and what latin-1 cannot hold becomes '?'."""
    return _CONTROL.sub(" ", message).encode("latin-1", "replace").decode("latin-1")[:1000]


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    csg_envelope: bool = False,
    extra: dict[str, object] | None = None,
    retry_after: int | None = None,
) -> JSONResponse:
    body: dict[str, object] = {"error": message, "code": code, **(extra or {})}
    if csg_envelope:
        body["msg"] = message
    headers = {"X-Error-Code": code, "X-Error-Message": header_safe(message)}
    request_id = request_ids.current_id()
    if request_id:  # what an operator greps the access log and the server's log for
        body["request_id"] = request_id
        headers[request_ids.HEADER] = request_id
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="CSGHub"'
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(body, status_code=status, headers=headers)


def _is_csg(request: Request) -> bool:
    return request.url.path.startswith("/api/v1/")


# Paths whose errors are the API's JSON even for a browser (the HF surface is also under /hf and /csg).
API_PREFIXES = ("/api/", "/hf/api/", "/csg/api/")

HtmlError = Callable[[Request, HubError | None, int], Response]
PageError = Callable[[Request, HubError], Awaitable[Response]]


async def answers_as_page(request: Request) -> None:
    """Declared by every portal router (PAGE_ROUTES): a HubError raised in its routes answers as the
    portal's error page, not as JSON. A dependency rather than a route class, so the mark stays with
    the route however the application copies its routes."""
    request.state.page_route = True


PAGE_ROUTES = [Depends(answers_as_page)]


def _on_page(request: Request) -> bool:
    """Decided by the route that took the request."""
    return bool(getattr(request.state, "page_route", False))


def _from_page_script(request: Request) -> bool:
    """The portal's own scripts prove their session with the CSRF header and read errors as JSON."""
    return "x-csrf-token" in request.headers


def _wants_html(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> str:
    """Every method some route answers on this path (the router's own 405 names only the first route's),
    found by asking each route whether it would take the request with that method."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    )


def install(app: FastAPI, *, html_error: HtmlError | None = None, page_error: PageError | None = None) -> None:
    """`html_error` renders the portal's error page for browsers that reach no route; `page_error` renders
    it for a HubError raised in a portal route (one of PAGE_ROUTES)."""

    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> Response:
        if exc.status >= 500 and not isinstance(exc, AnswerNotReady):
            log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
        on_page = page_error is not None and _on_page(request)
        if page_error is not None and on_page and not _from_page_script(request):
            return await page_error(request, exc)
        if html_error is not None and not on_page and _wants_html(request) and not request.url.path.startswith("/api/"):
            # A browser opening a file link (resolve, raw) reads a page; API clients still get JSON.
            return html_error(request, exc, exc.status)
        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        response = error_response(
            exc.status, exc.code, exc.message, csg_envelope=_is_csg(request), retry_after=retry_after
        )
        if on_page:
            del response.headers["WWW-Authenticate"]  # a script's fetch must not open the browser's password dialog
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}" for err in exc.errors()[:5]
        )
        return error_response(400, "InvalidArgument", f"Invalid request: {problems}", csg_envelope=_is_csg(request))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # A process boundary: log the whole story, tell the client only that it was our fault.
        log.exception("%s %s failed unexpectedly", request.method, request.url.path)
        if html_error is not None and _wants_html(request) and not request.url.path.startswith(API_PREFIXES):
            return html_error(request, None, 500)
        return error_response(500, "InternalError", "Internal server error", csg_envelope=_is_csg(request))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        response: Response
        if html_error is not None and _wants_html(request) and not request.url.path.startswith(API_PREFIXES):
            response = html_error(request, None, exc.status_code)
        else:
            code = "NotFound" if exc.status_code == 404 else "HTTPError"
            message = "Not found" if exc.status_code == 404 else str(exc.detail)
            response = error_response(exc.status_code, code, message, csg_envelope=_is_csg(request))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = allowed_methods(request)
        return response
