"""A 404 for API paths that no API route knows, whatever the method."""

from __future__ import annotations

from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match, NoMatchFound, Router
from starlette.types import Receive, Scope, Send

from csghub.http.errors import API_PREFIXES


class UnknownApiPaths(BaseRoute):
    """Added after every API route and before the portal's pages: `/{namespace}/{name}` pages would
    otherwise take `/api/nothing` and answer with a page or a 405. A path that a route before this
    one answers with another method is left alone, so the router still says 405 with Allow.
    """

    def __init__(self, router: Router) -> None:
        self.router = router

    def _earlier_routes(self) -> list[BaseRoute]:
        routes = self.router.routes
        return routes[: routes.index(self)] if self in routes else list(routes)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(API_PREFIXES):
            return Match.NONE, {}
        if any(route.matches(scope)[0] is not Match.NONE for route in self._earlier_routes()):
            return Match.NONE, {}
        return Match.FULL, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise HTTPException(404)

    def url_path_for(self, name: str, /, **path_params: object) -> URLPath:
        raise NoMatchFound(name, path_params)
