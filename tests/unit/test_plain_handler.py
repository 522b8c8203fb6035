"""plain_handler serves only routes it calls exactly as FastAPI would (string path parameters, the
request, dependencies made from the request, a Response returned); others keep FastAPI's handler,
and so does every route while a dependency is overridden."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

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


def _app() -> FastAPI:
    app = FastAPI()
    include_routes(app, router)
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
