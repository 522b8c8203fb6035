"""Revision names with '/' in URLs.

Clients quote a revision as one segment ('feature%2Fx'); servers normally decode that before routing,
which would make 'tree/feature/x/path' ambiguous. The middleware keeps an encoded slash as U+001F (a
character no ref name or file path may contain) so routes see one segment; unmask() restores it.
A URL that itself carries a control character is refused first, so the mask cannot be forged and no
name with one reaches a route.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

from starlette.types import ASGIApp, Receive, Scope, Send

from csghub.http.errors import error_response
from csghub.http.repos import SLASH_MASK

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _has_control_character(scope: Scope) -> bool:
    query = unquote_plus((scope.get("query_string") or b"").decode("latin-1"), encoding="utf-8", errors="replace")
    return bool(_CONTROL.search(scope.get("path", "")) or _CONTROL.search(query))


class EncodedSlashMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if _has_control_character(scope):
                response = error_response(400, "InvalidArgument", "The URL contains a control character")
                await response(scope, receive, send)
                return
            raw: bytes = scope.get("raw_path") or b""
            if b"%2f" in raw.lower():
                masked = raw.replace(b"%2F", b"%1F").replace(b"%2f", b"%1F")
                scope = {
                    **scope,
                    "path": unquote(masked.decode("latin-1"), encoding="utf-8", errors="replace"),
                }
        await self.app(scope, receive, send)


def unmask(value: str) -> str:
    return value.replace(SLASH_MASK, "/")
