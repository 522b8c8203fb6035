"""What /api/openapi.json says about the API, kept true to what the routes answer.

One declaration of the error answers (routers and write routes name it instead of copying it), the
path parameter constraints core/names.py enforces, and the schema generation that applies them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from csghub.core.names import NAME_PATTERN, REF_PATTERN, RepoType


class ErrorBody(BaseModel):
    """Every refusal: http/errors.py's JSON, also in the X-Error-Code / X-Error-Message headers."""

    error: str
    code: str
    msg: str | None = None  # the /api/v1 routes repeat the message here, as CSGHub's clients read it
    request_id: str | None = None  # as in the X-Request-ID header and the access log line


_ERROR_HEADERS = {
    "X-Error-Code": {"schema": {"type": "string"}, "description": "The error code, as in the body"},
    "X-Error-Message": {"schema": {"type": "string"}, "description": "The message, control characters blanked"},
    "X-Request-ID": {"schema": {"type": "string"}, "description": "The request's id, as in the body"},
}
_MEANINGS = {
    400: "Invalid input: a malformed body, a field of the wrong type, a bad name, revision or path",
    401: "Missing, wrong or expired credentials where an account is needed",
    403: "The account or its token may not do this (or a gated repository's files without access)",
    404: "Not found, or hidden from this actor",
    408: "The body did not arrive in time (a client that pauses too long is cut off), or a query ran past its limit",
    409: "Conflicts with the current state: it exists already, or the branch moved since the parent commit",
    413: "The body is larger than this route accepts",
    416: "The requested byte range lies outside the file",
    429: "Too many requests: retry after the Retry-After header's seconds",
    500: "The dataset viewer has no answer: ResponseNotReady while converting, or the conversion's error",
    503: "The hub holds as many request bodies as it may right now: retry after Retry-After's seconds",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries of these error statuses, all in the shape of ErrorBody."""
    return {
        status: {"model": ErrorBody, "description": _MEANINGS[status], "headers": _ERROR_HEADERS} for status in statuses
    }


# Any route may refuse its input, the credentials sent, the actor, a missing resource or a flood.
# (Refusals before a request reaches any route, 431 for huge headers and 408 for slow ones, are the
# connection's, answered by http/connections.py alike for every path.)
API_ERRORS = errors(400, 401, 403, 404, 429)
# A write may also conflict with what exists, and its body may be over the route's limit, too slow, or
# wait for memory that other bodies hold (http/body_limits.py).
WRITE_ERRORS = errors(408, 409, 413, 503)

# Field schemas of the JSON bodies routes read themselves (through http/bodies.py), for json_body().
TEXT: dict[str, Any] = {"type": "string"}
FLAG: dict[str, Any] = {"type": "boolean"}
WHOLE: dict[str, Any] = {"type": "integer", "minimum": 0}
TEXTS: dict[str, Any] = {"type": "array", "items": TEXT}
REPO_TYPE: dict[str, Any] = {"type": "string", "enum": [t.value for t in RepoType]}
VISIBILITY: dict[str, Any] = {"type": "string", "enum": ["public", "internal", "private"]}


def json_body(*required: str, optional: bool = False, **properties: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra=` describing the JSON object a route reads with http/bodies.py; fields of another
    type are refused with a 400 that names them, and unknown fields are ignored."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {"requestBody": {"required": not optional, "content": {"application/json": {"schema": schema}}}}


def query(*required: str, **parameters: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra=` naming the query parameters a route reads from request.query_params itself."""
    return {
        "parameters": [
            {"name": name, "in": "query", "required": name in required, "schema": schema}
            for name, schema in parameters.items()
        ]
    }


_PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "type_plural": {"type": "string", "enum": [t.plural for t in RepoType]},
    "namespace": {"type": "string", "pattern": NAME_PATTERN},
    "name": {"type": "string", "pattern": NAME_PATTERN},
    "user": {"type": "string", "pattern": NAME_PATTERN},
    "revision": {"type": "string", "pattern": REF_PATTERN},
    "branch": {"type": "string", "pattern": REF_PATTERN},
    "tag": {"type": "string", "pattern": REF_PATTERN},
}


def _constrain_path_parameters(schema: dict[str, Any]) -> None:
    """Path parameters named as above are validated by core/names.py with these very patterns; an empty
    segment never matches a route, so every path parameter has at least one character."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "path":
                    continue
                known = _PATH_PARAMETERS.get(parameter["name"])
                if known is not None:
                    parameter["schema"] = {**parameter.get("schema", {}), **known}
                elif parameter.get("schema", {}).get("type") == "string":
                    parameter["schema"].setdefault("minLength", 1)


def _order_path_parameters(schema: dict[str, Any]) -> None:
    """Path parameters in the order the path names them, whether the handler or its repository
    dependency (http/repos.py) declares them; other parameters keep their place after them."""
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            parameters = operation.get("parameters", [])

            def place(item: tuple[int, dict[str, Any]], path: str = path) -> tuple[int, int]:
                index, parameter = item
                if parameter.get("in") == "path":
                    return 0, path.find("{" + parameter["name"] + "}")
                return 1, index

            operation_parameters = [p for _, p in sorted(enumerate(parameters), key=place)]
            if operation_parameters:
                operation["parameters"] = operation_parameters


def _drop_unanswered_validation_status(schema: dict[str, Any]) -> None:
    """FastAPI documents 422 for parameters it validates; http/errors.py answers those with a 400."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            _order_path_parameters(schema)
            _constrain_path_parameters(schema)
            _drop_unanswered_validation_status(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customize the schema
