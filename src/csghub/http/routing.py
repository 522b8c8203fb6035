"""Routers added to the application as flat copies of their routes.

FastAPI (0.120 and later) keeps an included router as one lazily resolved branch, and tries each of its
routes through several layers of per-request bookkeeping; with some 180 routes ahead of the Hugging
Face read routes, finding the route cost more than answering (benches/bench_request_overhead.py).
Copies of the routes on the application's own router are tried in the same order, with the same
schema (this is what `include_router` itself did before), and a route whose path pattern does not match
says so before any of FastAPI's bookkeeping runs.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope


class FlatRoute(APIRoute):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            if root and path.startswith(root):  # as Starlette reads the route's part of the path
                path = path[len(root) :]
            if self.path_regex.match(path) is None:
                return Match.NONE, {}
        return super().matches(scope)


def include_routes(app: FastAPI, router: APIRouter, prefix: str = "") -> None:
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r} is not an API route: mount it on the application itself")
        app.router.add_api_route(
            prefix + route.path,
            route.endpoint,
            response_model=route.response_model,
            status_code=route.status_code,
            tags=route.tags,
            dependencies=route.dependencies,
            summary=route.summary,
            description=route.description,
            response_description=route.response_description,
            responses=route.responses,
            deprecated=route.deprecated,
            methods=route.methods,
            operation_id=route.operation_id,
            response_model_include=route.response_model_include,
            response_model_exclude=route.response_model_exclude,
            response_model_by_alias=route.response_model_by_alias,
            response_model_exclude_unset=route.response_model_exclude_unset,
            response_model_exclude_defaults=route.response_model_exclude_defaults,
            response_model_exclude_none=route.response_model_exclude_none,
            include_in_schema=route.include_in_schema,
            response_class=route.response_class,
            name=route.name,
            callbacks=route.callbacks,
            openapi_extra=route.openapi_extra,
            generate_unique_id_function=route.generate_unique_id_function,
            route_class_override=FlatRoute,
        )
