"""plain_handler serves only routes it calls exactly as FastAPI would (string path parameters, the
request, dependencies made from the request, a Response returned); others keep FastAPI's handler,
and so does every route while a dependency is overridden."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from csghub.http import routing
from csghub.http.routing import include_routes, plain_handler


async def _who(request: Request) -> str:
    return request.headers.get("x-who", "nobody")


router = APIRouter()


@router.get("/plain/{namespace}/{rest:path}")
async def plain(request: Request, namespace: str, rest: str, who: str = Depends(_who)) -> PlainTextResponse:
    return PlainTextResponse(f"{request.method} {namespace} {rest} {who}")


@router.get("/number/{n}")
async def number(n: int) -> JSONResponse:
    return JSONResponse({"n": n})


@router.get("/query/{name}")
async def with_query(name: str, q: str = "") -> JSONResponse:
    return JSONResponse({"name": name, "q": q})


@router.get("/model/{name}")
async def returns_a_dict(name: str) -> dict[str, str]:
    return {"name": name}


class Item(BaseModel):
    name: str
    size: int = 0


@router.post("/items/{kind}", status_code=201, responses={409: {"description": "taken"}}, tags=["items"])
async def with_a_body(kind: str, item: Item, who: str = Depends(_who)) -> Item:
    """Makes an item.\f(not in the schema)"""
    return Item(name=f"{kind}:{item.name}:{who}", size=item.size)


class Problem(BaseModel):
    error: str


@router.get("/items/{kind}/{name}", responses={404: {"model": Problem}})
async def an_item(kind: str, name: str) -> Item:
    """Answers a model, and names another for its 404: both are named by themselves, not by the route."""
    return Item(name=f"{kind}:{name}")


@router.get("/hidden", include_in_schema=False)
async def hidden() -> PlainTextResponse:
    return PlainTextResponse("hidden")


def _app(prefix: str = "") -> FastAPI:
    app = FastAPI()
    include_routes(app, router)
    if prefix:  # the same routes again under a prefix, as /hf and /csg serve the Hugging Face API
        include_routes(app, router, prefix)
    return app


def test_only_routes_called_as_fastapi_would_get_the_plain_handler() -> None:
    routes = {route.path: route for route in _app().router.routes if isinstance(route, APIRoute)}
    assert plain_handler(routes["/plain/{namespace}/{rest:path}"]) is not None
    for path in ("/number/{n}", "/query/{name}", "/model/{name}"):
        assert plain_handler(routes[path]) is None, path


def test_the_plain_handler_answers_what_fastapi_answers_and_overrides_still_apply() -> None:
    app = _app()
    with TestClient(app) as client:
        assert client.get("/plain/ns/a/b.txt", headers={"x-who": "ann"}).text == "GET ns a/b.txt ann"
        assert client.get("/number/7").json() == {"n": 7}
        assert client.get("/number/x").status_code == 422
        assert client.get("/query/a?q=b").json() == {"name": "a", "q": "b"}
        assert client.get("/model/m").json() == {"name": "m"}

        async def someone() -> str:
            return "override"

        app.dependency_overrides[_who] = someone
        assert client.get("/plain/ns/x").text == "GET ns x override"


def _requests(app: FastAPI, prefix: str = "") -> list[tuple[int, str]]:
    with TestClient(app, base_url=f"http://testserver{prefix}") as client:
        answers = [
            client.get("plain/ns/a/b.txt", headers={"x-who": "ann"}),
            client.get("number/x"),
            client.post("items/tool", json={"name": "saw", "size": 2}, headers={"x-who": "bo"}),
            client.post("items/tool", json={"size": "big"}),
            client.post("items/tool", content=b"not json", headers={"content-type": "application/json"}),
            client.get("items/tool/saw"),
            client.get("hidden"),
            client.put("hidden"),
        ]
        return [(answer.status_code, answer.text) for answer in answers]


@pytest.mark.parametrize("prefix", ["", "/hf"])
def test_adopted_routes_are_the_routes_fastapi_would_build(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    """include_routes hands a router's routes to the application as they are (routing.adopt), also under a
    prefix: the schema, the routes' paths, names and ids, and every answer are those of routes built again."""
    adopted = _app(prefix)
    monkeypatch.setattr(routing, "adopt", lambda app, route, prefix="": routing.build(app, route, prefix))
    built = _app(prefix)
    assert adopted.openapi() == built.openapi()
    described = [
        [
            (type(r).__name__, r.path, sorted(r.methods or ()), r.unique_id, r.name)
            for r in app.router.routes
            if isinstance(r, APIRoute)
        ]
        for app in (adopted, built)
    ]
    assert described[0] == described[1] and len(described[0]) == len(router.routes) * (2 if prefix else 1)
    assert all(type(r) is routing.FlatRoute for r in adopted.router.routes if isinstance(r, APIRoute))
    assert _requests(adopted) == _requests(built)
    assert _requests(adopted)[2] == (201, '{"name":"tool:saw:bo","size":2}')
    if prefix:
        assert _requests(adopted, prefix) == _requests(built, prefix) == _requests(adopted)
        # The copy under the prefix is the router's route (not built again) unless its schema names its id.
        copies = {r.path: r for r in adopted.router.routes if isinstance(r, APIRoute) and r.path.startswith(prefix)}
        originals = {r.path: r for r in router.routes if isinstance(r, APIRoute)}
        shared = sorted(path for path, r in originals.items() if copies[prefix + path].dependant is r.dependant)
        assert shared == [
            "/hidden",
            "/items/{kind}/{name}",
            "/number/{n}",
            "/plain/{namespace}/{rest:path}",
            "/query/{name}",
        ]
