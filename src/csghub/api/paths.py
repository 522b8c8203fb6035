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

from starlette.convertors import Convertor
from starlette.types import ASGIApp, Receive, Scope, Send

from csghub.core.names import RepoType
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


class RepoTypeConvertor(Convertor[str]):
    """`{type_plural:repo_type}` in a route: only the repository types, singular or plural.

    With a plain `{type_plural}`, `/api/nothing` was the listing of "nothing"s (400 from the handler)
    and `POST /api/v1/x` a wrong method on the create route (405): an unknown path must be a 404
    whatever its method. The OpenAPI schema spells the segment as before (an enum, http/openapi.py).
    """

    regex = "|".join(f"{kind.value}s?" for kind in RepoType)

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value
