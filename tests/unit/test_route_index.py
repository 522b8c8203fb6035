"""RouteIndex picks the route the router's own scan would pick, for a path made from every route of
the real application, and leaves what no route matches in full (404, 405, a slash redirect) to it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from csghub.app import create_app
from csghub.config import Settings
from csghub.http.routing import RouteIndex, literal_segments

_FILL = {"repo_type": "models", "path": "a/b.txt", "int": "7"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(Settings(data_dir=Path(tmp_path_factory.mktemp("data"))))


def _sample(path: str) -> str:
    return re.sub(r"{(\w+)(?::(\w+))?}", lambda m: _FILL.get(m[2] or "", f"x{m[1]}"), path)


def _scope(path: str, method: str) -> Scope:
    return {"type": "http", "path": path, "root_path": "", "method": method, "headers": [], "query_string": b""}


def _first_full(routes: list[BaseRoute] | tuple[BaseRoute, ...], scope: Scope) -> BaseRoute | None:
    return next((route for route in routes if route.matches(scope)[0] == Match.FULL), None)


def test_the_index_finds_the_route_a_full_scan_finds_for_every_route(app: FastAPI) -> None:
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    tried = 0
    for route in app.router.routes:
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        for method in getattr(route, "methods", None) or {"GET"}:
            scope = _scope(_sample(path), method)
            expected = _first_full(app.router.routes, scope)
            assert _first_full(index.candidates(scope["path"]), scope) is expected, (path, method)
            tried += 1
    assert tried > 250
    # Fewer routes are tried than the router holds, which is the point.
    assert len(index.candidates("/api/models/someone/something")) < len(app.router.routes) // 30


def test_literal_segments_stop_at_a_parameter_that_spans_segments(app: FastAPI) -> None:
    by_path = {getattr(route, "path", None): route for route in app.router.routes}
    assert literal_segments(by_path["/api/{type_plural:repo_type}/{namespace}/{name}"]) == ((0, "api"),)
    assert literal_segments(by_path["/{namespace}/{name}/resolve/{revision}/{path:path}"]) == ((2, "resolve"),)
    assert literal_segments(by_path["/{repo_path:path}/info/refs"]) == ((-1, "refs"), (-2, "info"))
