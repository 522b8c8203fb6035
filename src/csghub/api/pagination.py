"""Link-header pagination, as huggingface_hub follows it (rel="next")."""

from __future__ import annotations

from fastapi import Request

from csghub.http.params import lenient_index


def next_link(request: Request, cursor: int) -> dict[str, str]:
    url = request.url.include_query_params(cursor=str(cursor))
    return {"Link": f'<{url}>; rel="next"'}


def parse_cursor(cursor: str | None) -> int:
    return lenient_index(cursor)
