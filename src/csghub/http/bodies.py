"""Reading JSON request bodies with a size bound and a clear error."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from csghub.core.errors import InvalidArgument, TooLarge

MAX_JSON_BODY = 512 * 1024 * 1024


async def read_json(request: Request, *, max_bytes: int = MAX_JSON_BODY) -> Any:
    declared = int(request.headers.get("content-length") or 0)
    if declared > max_bytes:
        raise TooLarge(f"Request body of {declared} bytes exceeds {max_bytes}; upload large files through LFS")
    raw = await request.body()
    if len(raw) > max_bytes:
        raise TooLarge(f"Request body exceeds {max_bytes} bytes; upload large files through LFS")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidArgument("Request body is not valid JSON") from None


async def read_json_object(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object; an empty body is {} when `optional`."""
    if optional and not (await request.body()).strip():
        return {}
    body = await read_json(request)
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
    if not isinstance(value, str):
        raise InvalidArgument(f"Field '{key}' must be a string")
    return value


def bool_field(body: dict[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidArgument(f"Field '{key}' must be true or false")
    return value
