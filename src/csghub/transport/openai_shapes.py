"""What the endpoint gateway (transport/gateway.py) says in OpenAI's own terms: its error bodies, and the
checks of a request's shape made before any replica sees it.

Clients of an endpoint are OpenAI clients (the `openai` SDK, LangChain, curl scripts copied from
OpenAI's documentation): they read `{"error": {"message", "type", "param", "code"}}`, never the hub's
own `{"error": "...", "code": ...}`. The checks exist because an engine answers some bad requests badly
(`transformers serve` fails with a bare 500 and drops the connection on a chat request without
`messages`), and because the hub, not the engine, bounds how much work one request may ask for.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from csghub.core.errors import HubError, InvalidArgument

# OpenAI's error types by status; what no entry names is the server's fault.
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    408: "timeout_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}
# OpenAI's codes for the hub's refusals by status: a bad or missing key, an endpoint that does not exist
# (or is hidden from this caller), a flood, no replica able to answer (starting, stopped, restarting).
_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded", 503: "no_healthy_replica"}


class BadRequest(InvalidArgument):
    """A request the gateway refuses before a replica sees it, naming the field at fault."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.openai_code = code


def error_body(message: str, *, status: int, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    kind = _TYPES.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def openai_error(
    status: int, message: str, *, param: str | None = None, code: str | None = None, retry_after: int | None = None
) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(error_body(message, status=status, param=param, code=code), status_code=status, headers=headers)


def from_hub_error(exc: HubError) -> JSONResponse:
    """A hub refusal (not found, bad token, no healthy replica...) in OpenAI's shape, same status."""
    if isinstance(exc, BadRequest):
        return openai_error(exc.status, exc.message, param=exc.param, code=exc.openai_code)
    retry_after = getattr(exc, "retry_after", None)
    if exc.status == 503 and retry_after is None:
        retry_after = 5  # a replica that is starting or restarting answers within seconds
    code = _CODES.get(exc.status, exc.code[:1].lower() + exc.code[1:] if exc.code else None)
    return openai_error(exc.status, exc.message, code=code, retry_after=retry_after)


def engine_message(raw: bytes) -> str:
    """What an engine's error body says: FastAPI's `{"detail": ...}` (a text or a list of validation
    problems), OpenAI's `{"error": {"message"}}`, or plain text."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw[:500].decode("utf-8", "replace").strip() or "no details"
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        detail = data.get("detail", error)
        if isinstance(detail, list):
            return "; ".join(_problem(item) for item in detail[:5]) or "invalid request"
        if detail is not None:
            return str(detail)
    return str(data)[:500]


def _problem(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
    return f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg", "invalid"))


def from_engine_error(status: int, raw: bytes) -> JSONResponse:
    """An engine's refusal as OpenAI would answer it: its validation errors (FastAPI's 422) are a 400, its
    own failures a 502 (the hub answered; the model server behind it did not)."""
    message = engine_message(raw)
    if status in (400, 404, 413, 422):
        return openai_error(400, message)
    if status == 429:
        return openai_error(429, message, retry_after=5)
    return openai_error(502, f"The model server failed: {message}", code="upstream_error")


# What a request may say, field by field: a bad type here is refused as OpenAI refuses it (the engines'
# own answers to some of them are a 500).
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_limits(body: dict[str, Any], max_tokens: int) -> None:
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if not _is_int(value) or value < 1:
            raise BadRequest(f"'{key}' must be a positive integer, not {json.dumps(value)}", param=key)
        if value > max_tokens:
            raise BadRequest(
                f"'{key}' is too large: {value}. This endpoint generates at most {max_tokens} tokens per request.",
                param=key,
                code="invalid_value",
            )
    if "stream" in body and not isinstance(body["stream"], bool | None):
        raise BadRequest("'stream' must be true or false", param="stream")
    for key, low, high in (("temperature", 0, 2), ("top_p", 0, 1)):
        value = body.get(key)
        if value is not None and (not _is_number(value) or not low <= value <= high):
            raise BadRequest(f"'{key}' must be a number from {low} to {high}", param=key)
    if body.get("seed") is not None and not _is_int(body["seed"]):
        raise BadRequest("'seed' must be an integer", param="seed")
    stop = body.get("stop")
    listed = isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop)
    if stop is not None and not isinstance(stop, str) and not listed:
        raise BadRequest("'stop' must be a string or a list of up to 4 strings", param="stop")


def check_chat(body: dict[str, Any], max_tokens: int) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' is required: a non-empty list of messages", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest(f"messages[{index}] must be an object with a 'role'", param=f"messages[{index}]")
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise BadRequest(
                f"messages[{index}].content must be a string or a list of parts", param=f"messages[{index}].content"
            )
    _check_limits(body, max_tokens)


def check_completion(body: dict[str, Any], max_tokens: int) -> None:
    prompt = body.get("prompt")
    if not isinstance(prompt, str) and not (isinstance(prompt, list) and prompt):
        raise BadRequest("'prompt' is required: a string or a non-empty list", param="prompt")
    _check_limits(body, max_tokens)


def check_embedding(body: dict[str, Any], max_inputs: int) -> None:
    given = body.get("input")
    inputs = [given] if isinstance(given, str) else given
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str | list) for i in inputs):
        raise BadRequest("'input' is required: a string or a non-empty list of strings", param="input")
    if len(inputs) > max_inputs:
        raise BadRequest(f"'input' holds {len(inputs)} items; at most {max_inputs} per request", param="input")
    if body.get("encoding_format", "float") not in ("float", "base64"):
        raise BadRequest("'encoding_format' must be 'float' or 'base64'", param="encoding_format")
