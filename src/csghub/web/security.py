"""What every portal page carries for safety: a strict Content-Security-Policy (no inline scripts or
styles, nothing from other sites), frame and sniffing protections, and CSRF tokens on every form.

Forms use a double-submit token: a random value in an HttpOnly cookie and the same value in a hidden
field. A cross-site form can make the browser send the cookie but cannot read it to fill the field.
"""

from __future__ import annotations

import secrets

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from csghub.core.errors import PermissionDenied

CSRF_COOKIE = "csghub_csrf"
CSRF_FIELD = "csrf_token"


def content_security_policy(upload_origins: tuple[str, ...] = ()) -> str:
    """`upload_origins`: where pages may send LFS parts besides the hub (an S3 endpoint)."""
    connect = " ".join(("'self'", *upload_origins))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
        f"connect-src {connect}; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    )


class SecurityHeadersMiddleware:
    """Adds the headers to HTML answers only: git, LFS and JSON clients have no use for them."""

    def __init__(self, app: ASGIApp, *, upload_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy(upload_origins).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html"):
                    headers.extend(self.headers)
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_token(request: Request) -> str:
    """This browser's form token, minted on first use (the page sets the cookie)."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return str(token)


def check_form_csrf(request: Request, submitted: str) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not submitted or not secrets.compare_digest(cookie, submitted):
        raise PermissionDenied("This form has expired or did not come from this site; reload the page and try again")
    # The API layer would ask for its header otherwise; the form token did the same job.
    request.state.csrf_ok = True
