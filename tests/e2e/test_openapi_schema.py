"""/api/openapi.json tells the truth: the status codes routes answer, their content types, the path
parameter constraints core/names.py enforces, and the Allow header of a 405."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from csghub.core.errors import InvalidArgument
from csghub.core.names import NAME_PATTERN, REF_PATTERN, validate_name, validate_ref_name
from tests.support.clients import api, create_repo
from tests.support.live import LiveHub

WRITES = ("post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema(live: LiveHub) -> dict[str, Any]:
    return httpx.get(f"{live.url}/api/openapi.json", timeout=60).json()


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]


def test_openapi_schema_declares_the_error_answers_of_every_route(schema: dict[str, Any]) -> None:
    operations = _operations(schema)
    assert len(operations) > 100
    for path, method, op in operations:
        declared = set(op["responses"])
        # FastAPI's 422 is never answered: http/errors.py turns parameter validation into a 400.
        assert "422" not in declared, (method, path)
        assert {"400", "401", "403", "404", "429"} <= declared, (method, path, declared)
        if method in WRITES:
            assert {"408", "409", "413", "503"} <= declared, (method, path, declared)
        body = op["responses"]["404"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/ErrorBody"}
    error_body = schema["components"]["schemas"]["ErrorBody"]
    assert set(error_body["required"]) == {"error", "code"}
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    ids = [op["operationId"] for _, _, op in operations]
    assert len(ids) == len(set(ids))


def test_openapi_schema_path_parameters_carry_the_enforced_patterns(schema: dict[str, Any]) -> None:
    seen: dict[str, set[str]] = {}
    for _, _, op in _operations(schema):
        for parameter in op.get("parameters", []):
            if parameter["in"] == "path":
                seen.setdefault(parameter["name"], set()).add(parameter["schema"].get("pattern", ""))
                assert parameter["schema"].get("minLength", 1) >= 1 or parameter["schema"].get("enum")
    assert seen["namespace"] == seen["name"] == {NAME_PATTERN}
    assert seen["revision"] == seen["branch"] == {REF_PATTERN}
    # The documented pattern and the validator agree, on names that pass and on names that do not.
    for value in ("a", "gpt2", "Qwen2.5-7B", "x_y", "a--b", "a..b", "x.git", "-a", "a-", "", "a b", "a\n", "é"):
        documented = re.fullmatch(NAME_PATTERN, value) is not None
        try:
            enforced = validate_name(value) == value
        except InvalidArgument:
            enforced = False
        assert documented == enforced, value
    for value in ("main", "v1.0", "feature/x", "a" * 40, "a..b", "a/.b", "x.lock", "a b", "@", "a@{1}", "-x", "x/"):
        documented = re.fullmatch(REF_PATTERN, value) is not None
        try:
            enforced = validate_ref_name(value) == value
        except InvalidArgument:
            enforced = False
        assert documented == enforced, value


def test_openapi_schema_resolve_declares_and_answers_bytes(live: LiveHub, schema: dict[str, Any]) -> None:
    resolve = schema["paths"]["/{namespace}/{name}/resolve/{revision}/{path}"]
    for method in ("get", "head"):
        assert set(resolve[method]["responses"]["200"]["content"]) == {"application/octet-stream"}
        assert "206" in resolve[method]["responses"] and "416" in resolve[method]["responses"]
    user, token = live.user()
    create_repo(live.url, token, f"{user}/bytes")
    with api(live.url, token) as client:
        header = b'{"key": "header", "value": {"summary": "s"}}\n'
        line = b'{"key": "file", "value": {"path": "w.json", "content": "eyJhIjogMX0=", "encoding": "base64"}}\n'
        assert client.post(f"/api/models/{user}/bytes/commit/main", content=header + line).status_code == 200
        r = client.get(f"/{user}/bytes/resolve/main/w.json")
        assert r.content == b'{"a": 1}' and r.headers["content-type"] == "application/octet-stream"
        ranged = client.get(f"/{user}/bytes/resolve/main/w.json", headers={"Range": "bytes=100-"})
        assert ranged.status_code == 416 and ranged.json()["code"]


def test_openapi_schema_declares_201_where_routes_create(live: LiveHub, schema: dict[str, Any]) -> None:
    assert set(schema["paths"]["/api/v1/organizations"]["post"]["responses"]) >= {"201"}
    assert "200" not in schema["paths"]["/api/v1/organizations"]["post"]["responses"]
    _, token = live.user()
    with api(live.url, token) as client:
        r = client.post("/api/v1/organizations", json={"name": f"o{token[-6:].lower()}x"})
    assert r.status_code == 201 and r.json()["data"]["name"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/models/{repo}/branch/dev", "POST, DELETE"),
        ("DELETE", "/api/whoami-v2", "GET"),
        ("PATCH", "/api/repos/create", "POST"),
        ("GET", "/api/models/{repo}/commit/main", "POST"),
    ],
)
def test_openapi_schema_405_names_every_allowed_method(live: LiveHub, method: str, path: str, allow: str) -> None:
    r = httpx.request(method, live.url + path.format(repo="someone/thing"))
    assert r.status_code == 405 and r.json()["error"]
    assert [m.strip() for m in r.headers["allow"].split(",")] == allow.split(", ")
