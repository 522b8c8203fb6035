"""Routers added to the application as flat copies of their routes.

FastAPI (0.120 and later) keeps an included router as one lazily resolved branch, and tries each of its
routes through several layers of per-request bookkeeping; with some 180 routes ahead of the Hugging
Face read routes, finding the route cost more than answering (benches/bench_request_overhead.py).
Copies of the routes on the application's own router are tried in the same order, with the same
schema (this is what `include_router` itself did before), and a route whose path pattern does not match
says so before any of FastAPI's bookkeeping runs.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, request_response
from pydantic import BaseModel
from starlette.convertors import CONVERTOR_TYPES
from starlette.routing import BaseRoute, Match, Mount, compile_path
from starlette.types import Receive, Scope, Send


class FlatRoute(APIRoute):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and self.path_regex.match(route_path(scope)) is None:
            return Match.NONE, {}
        return super().matches(scope)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        general = super().get_route_handler()
        plain = plain_handler(self)
        if plain is None:
            return general
        overrides = self.dependency_overrides_provider

        async def handle(request: Request) -> Response:
            # Overridden dependencies (tests of other apps do that) go through FastAPI's handler.
            if getattr(overrides, "dependency_overrides", None):
                return await general(request)
            return await plain(request)

        return handle


def _takes_only_the_request(dependant: Dependant) -> bool:
    """A dependency computed from the request alone by an async function (the actor, the hub)."""
    return (
        dependant.call is not None
        and inspect.iscoroutinefunction(dependant.call)
        and not (dependant.path_params or dependant.query_params or dependant.header_params)
        and not (dependant.cookie_params or dependant.body_params or dependant.dependencies)
        and dependant.request_param_name is not None
        and dependant.websocket_param_name is None
        and dependant.http_connection_param_name is None
        and dependant.response_param_name is None
        and dependant.background_tasks_param_name is None
        and dependant.security_scopes_param_name is None
    )


def plain_handler(route: APIRoute) -> Callable[[Request], Coroutine[Any, Any, Response]] | None:
    """For a route whose endpoint takes the request, plain string path parameters and dependencies
    made from the request alone, and returns a Response itself: a handler that calls it with those,
    as FastAPI's own would, without its general validation machinery (which cost more than answering
    model info or a small file). None for any other route, which FastAPI's handler serves."""
    dependant = route.dependant
    endpoint = dependant.call
    if endpoint is None or not inspect.iscoroutinefunction(endpoint) or route.body_field is not None:
        return None
    if route.response_model is not None:
        return None
    answer = inspect.signature(endpoint, eval_str=True).return_annotation
    if not (isinstance(answer, type) and issubclass(answer, Response)):
        return None
    if dependant.query_params or dependant.header_params or dependant.cookie_params or dependant.body_params:
        return None
    if dependant.websocket_param_name or dependant.http_connection_param_name or dependant.response_param_name:
        return None
    if dependant.background_tasks_param_name or dependant.security_scopes_param_name:
        return None
    if not all(_takes_only_the_request(sub) for sub in dependant.dependencies):
        return None
    path = []
    for field in dependant.path_params:
        if field.field_info.annotation is not str or not field.field_info.is_required():
            return None
        path.append((field.name, field.alias))
    request_name = dependant.request_param_name
    needs = [(sub.name, sub.call, sub.request_param_name) for sub in dependant.dependencies]

    async def handle(request: Request) -> Response:
        params = request.path_params
        values: dict[str, Any] = {name: params[alias] for name, alias in path}
        if request_name is not None:
            values[request_name] = request
        for name, call, takes in needs:
            assert call is not None and takes is not None
            value = await call(**{takes: request})
            if name is not None:
                values[name] = value
        response: Response = await endpoint(**values)
        return response

    return handle


def include_routes(app: FastAPI, router: APIRouter, prefix: str = "") -> None:
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r} is not an API route: mount it on the application itself")
        if getattr(route, "max_body_size", None) is None and (not prefix or not _names_models(route)):
            adopt(app, route, prefix)
        else:
            build(app, route, prefix)


def _names_models(route: APIRoute) -> bool:
    """Whether the route's schema names something after the route's id: its body's model, or the title of an
    answer that is not a pydantic model (a model's schema is a reference to it, by its own name). A copy under
    a prefix, which has an id of its own, is built anew to name them after that."""
    answers = [route.response_field, *route.response_fields.values()]
    return route.body_field is not None or any(
        field is not None and not (isinstance(t := field.field_info.annotation, type) and issubclass(t, BaseModel))
        for field in answers
    )


def build(app: FastAPI, route: APIRoute, prefix: str) -> None:
    """A new FlatRoute of the application from `route`'s settings, at `prefix` + its path."""
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


def adopt(app: FastAPI, route: APIRoute, prefix: str = "") -> None:
    """The router's own route, as a FlatRoute of the application at `prefix` + its path. Building a route
    (its dependencies' and parameters' pydantic adapters) is about half of a hub's start-up CPU, and the
    router has built this one already: only the handler, which names the application's dependency
    overrides, is made again, and for a prefix (which names no parameter) the path's pattern and the
    route's id (benches/bench_startup.py)."""
    assert "{" not in prefix, "a prefix with parameters changes the route's parameters: build it"
    flat = copy.copy(route)
    flat.__class__ = FlatRoute
    if prefix:
        flat.path = prefix + route.path
        flat.path_regex, flat.path_format, flat.param_convertors = compile_path(flat.path)
        generate = route.generate_unique_id_function
        flat.unique_id = route.operation_id or (
            generate.value if isinstance(generate, DefaultPlaceholder) else generate
        )(flat)
    flat.dependency_overrides_provider = app.router.dependency_overrides_provider
    flat.app = request_response(flat.get_route_handler())
    app.router.routes.append(flat)
    changed = getattr(app.router, "_mark_routes_changed", None)  # FastAPI's cache of the OpenAPI schema
    if changed is not None:
        changed()


def route_path(scope: Scope) -> str:
    """The part of the path that routes match, as Starlette reads it (without the root path)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")
_ONE_SEGMENT = frozenset({"str", "int", "float", "uuid"})
_DEPTH = 6  # segments looked at from the front: enough for /hf/api/{type}/{ns}/{name}/<what>
_TAIL = 3  # and from the back, after a `:path` parameter: /info/lfs/locks
_POSITIONS = (*range(_DEPTH), *range(-_TAIL, 0))
_SLOT = {position: slot for slot, position in enumerate(_POSITIONS)}


def _one_segment(convertor: str | None) -> bool:
    """Whether a parameter matches within one path segment: the plain convertors, and those that are an
    alternation of words (such as repo_type)."""
    if convertor is None or convertor in _ONE_SEGMENT:
        return True
    found = CONVERTOR_TYPES.get(convertor)
    return found is not None and re.fullmatch(r"[\w|?]+", found.regex) is not None


def literal_segments(route: BaseRoute) -> tuple[tuple[int, str], ...]:
    """(position, text) of the path segments a request must have, word for word, to match `route`:
    from the front up to a parameter that may span segments (a `:path`), and after such a parameter
    from the back (negative positions), as in `/{repo_path:path}/info/refs`."""
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return ()
    if isinstance(route, Mount):
        path = path.rstrip("/") + "/{path:path}"
    segments = path.split("/")[1:]
    found = []
    spans = False
    for position, segment in enumerate(segments[:_DEPTH]):
        params = _PARAM.findall(segment)
        if not params:
            found.append((position, segment))
        elif not all(_one_segment(convertor or None) for _, convertor in params):
            spans = True
            break
    if spans:
        for back, segment in enumerate(reversed(segments[-_TAIL:]), start=1):
            if "{" in segment:
                break
            found.append((-back, segment))
    return tuple(found)


class RouteIndex:
    """The application's router, with the routes a request's path can match found by its literal
    segments instead of trying each of some 300 routes in turn (benches/bench_request_overhead.py).

    Only the routes whose literal segments the path has are tried, in their order, so the first that
    matches is the one the router would pick; that route then runs through the router itself (a copy
    holding just it), so FastAPI's bookkeeping is unchanged. A request no route matches in full (a 404,
    a 405, a redirect to add or drop a trailing slash) goes to the router as it is.
    """

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._known = -1
        self._vocabulary: dict[int, frozenset[str]] = {}
        self._literals: list[tuple[BaseRoute, tuple[tuple[int, str], ...]]] = []
        self._candidates: dict[tuple[str | None, ...], tuple[BaseRoute, ...]] = {}
        self._alone: dict[int, APIRouter] = {}

    def _index(self) -> None:
        routes = list(self.router.routes)
        self._literals = [(route, literal_segments(route)) for route in routes]
        words: dict[int, set[str]] = {i: set() for i in _POSITIONS}
        for _, literals in self._literals:
            for position, text in literals:
                words[position].add(text)
        self._vocabulary = {i: frozenset(w) for i, w in words.items()}
        self._candidates = {}
        self._alone = {}
        self._known = len(routes)

    def candidates(self, path: str) -> tuple[BaseRoute, ...]:
        if len(self.router.routes) != self._known:  # routes added after the first request
            self._index()
        segments = path.split("/")[1:]
        count = len(segments)
        key = tuple(
            segments[i] if -count <= i < count and segments[i] in self._vocabulary[i] else None for i in _POSITIONS
        )
        found = self._candidates.get(key)
        if found is None:
            found = tuple(
                route for route, literals in self._literals if all(key[_SLOT[i]] == text for i, text in literals)
            )
            if len(self._candidates) >= 4096:  # keys are made of route words only; this bounds odd mixes
                self._candidates.clear()
            self._candidates[key] = found
        return found

    def _router_for(self, route: BaseRoute) -> APIRouter:
        alone = self._alone.get(id(route))
        if alone is None:
            alone = copy.copy(self.router)
            alone.routes = [route]
            self._alone[id(route)] = alone
        return alone

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.candidates(route_path(scope)):
                if route.matches(scope)[0] == Match.FULL:
                    scope.setdefault("router", self.router)  # url_for looks among all routes
                    await self._router_for(route).app(scope, receive, send)
                    return
        await self.router.app(scope, receive, send)


def index_routes(app: FastAPI) -> None:
    """Route the application's requests through a RouteIndex; call it once every route is added."""
    app.router.middleware_stack = RouteIndex(app.router)
