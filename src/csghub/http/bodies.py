"""Reading JSON request bodies with a size bound, a nesting bound and a clear error."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

import anyio
from fastapi import Request

from csghub.core.errors import InvalidArgument, ServiceUnavailable, TooLarge

# Used when no route bound is known (BodyLimitMiddleware records one in the scope for every request).
MAX_JSON_BODY = 1024 * 1024
MAX_JSON_DEPTH = 64
_PARSE_INLINE = 64 * 1024
# Scope keys under which BodyLimitMiddleware leaves the route's body bound and the request's share of
# the process's body memory for read_json.
BODY_LIMIT_KEY = "csghub.body_limit"
BODY_MEMORY_KEY = "csghub.body_memory"


class BodyMemory:
    """Bytes of request bodies held in memory at once by this process, across all requests: each
    request's own bound keeps one body small, this keeps many of them from adding up. The event loop
    is the only caller, so no lock is needed."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0

    def share(self) -> BodyShare:
        return BodyShare(self)


class BodyShare:
    """One request's part of BodyMemory, given back when the request ends."""

    def __init__(self, memory: BodyMemory) -> None:
        self.memory = memory
        self.held = 0

    def take(self, size: int) -> None:
        if self.memory.used + size > self.memory.capacity:
            raise ServiceUnavailable(
                "The hub is holding as many request bodies as it may; retry shortly", code="Overloaded"
            )
        self.memory.used += size
        self.held += size

    def release(self) -> None:
        self.memory.used -= self.held
        self.held = 0


# A JSON string, also an unterminated one (the optional closing quote keeps the scan linear on hostile
# input); possessive so the engine never backtracks into it.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(raw: bytes) -> int:
    """How deeply `raw` nests arrays and objects, counted without parsing (json.loads recurses, so a
    deep document must be refused before it reaches the parser)."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def parse_json(raw: bytes) -> Any:
    """`raw` as JSON: invalid or too deeply nested input is a 400."""
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise InvalidArgument(f"Request body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidArgument("Request body is not valid JSON") from None
    except RecursionError:  # a last guard; json_depth should have refused it
        raise InvalidArgument(f"Request body nests deeper than {MAX_JSON_DEPTH} levels") from None


async def read_body(request: Request, *, max_bytes: int | None = None) -> bytes:
    """The whole body, read chunk by chunk and refused as soon as it passes `max_bytes` (by default the
    bound BodyLimitMiddleware set for the route)."""
    limit = max_bytes if max_bytes is not None else int(request.scope.get(BODY_LIMIT_KEY) or MAX_JSON_BODY)
    declared = request.headers.get("content-length") or ""
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"Request body of {declared} bytes exceeds {limit}; upload large files through LFS")
    share = request.scope.get(BODY_MEMORY_KEY)
    buffer = bytearray()
    async for chunk in request.stream():
        if isinstance(share, BodyShare):
            share.take(len(chunk))
        buffer += chunk
        if len(buffer) > limit:
            raise TooLarge(f"Request body exceeds {limit} bytes; upload large files through LFS")
    body = bytes(buffer)
    request._body = body  # Starlette's cache, so a later request.body() sees it too
    return body


async def parse_json_off_loop(raw: bytes) -> Any:
    """parse_json, in a worker thread when `raw` is large enough for scanning and parsing to hold up
    the event loop (a hostile 64 MiB takes seconds)."""
    if len(raw) <= _PARSE_INLINE:
        return parse_json(raw)
    return await anyio.to_thread.run_sync(parse_json, raw)


async def read_json(request: Request, *, max_bytes: int | None = None) -> Any:
    return await parse_json_off_loop(await read_body(request, max_bytes=max_bytes))


async def read_json_object(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object; an empty body is {} when `optional`."""
    raw = await read_body(request)
    if optional and not raw.strip():
        return {}
    body = await parse_json_off_loop(raw)
    if not isinstance(body, dict):
        raise InvalidArgument("Request body must be a JSON object")
    return body


def text_field(body: dict[str, Any], key: str, *, required: bool = False, default: str = "") -> str:
    """A string field of a JSON body; a missing required field or a non-string is a 400 naming it."""
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise InvalidArgument(f"Field '{key}' is required")
        return default
    return _text(key, value)


def _text(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"Field '{key}' must be a string")
    if "\x00" in value:  # PostgreSQL text cannot hold NUL, and no name, path or message needs it
        raise InvalidArgument(f"Field '{key}' must not contain NUL characters")
    return value


def bool_field(body: dict[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidArgument(f"Field '{key}' must be true or false")
    return value


def optional_text_field(body: dict[str, Any], key: str) -> str | None:
    """A string field that may be absent or null (None then); any other type is a 400 naming it."""
    value = body.get(key)
    return None if value is None else _text(key, value)


def int_field(body: dict[str, Any], key: str, *, minimum: int | None = None, maximum: int = 2**63 - 1) -> int | None:
    """A whole-number field (JSON true/false are not numbers here), at most what SQL's BIGINT holds unless
    `maximum` says less; absent or null is None."""
    value = body.get(key)
    if value is None:
        return None
    lower = -maximum if minimum is None else minimum
    if not isinstance(value, int) or isinstance(value, bool) or not lower <= value <= maximum:
        bound = "" if minimum is None else f" from {minimum}"
        raise InvalidArgument(f"Field '{key}' must be a whole number{bound} up to {maximum}")
    return value


def text_list_field(body: dict[str, Any], key: str) -> list[str] | None:
    """A list of strings; absent or null is None."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidArgument(f"Field '{key}' must be a list of strings")
    return [_text(key, item) for item in value]
