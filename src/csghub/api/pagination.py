"""Link-header pagination, as huggingface_hub follows it (rel="next")."""

from __future__ import annotations

from fastapi import Request


def next_link(request: Request, cursor: int) -> dict[str, str]:
    url = request.url.include_query_params(cursor=str(cursor))
    return {"Link": f'<{url}>; rel="next"'}


def parse_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        value = int(cursor)
    except ValueError:
        return 0
    return max(value, 0)
