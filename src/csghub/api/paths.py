"""Revision names with '/' in URLs.

Clients quote a revision as one segment ('feature%2Fx'); servers normally decode that before routing,
which would make 'tree/feature/x/path' ambiguous. The middleware keeps an encoded slash as U+001F (a
character no ref name or file path may contain) so routes see one segment; unmask() restores it.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

SLASH_MASK = "\x1f"


class EncodedSlashMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
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
