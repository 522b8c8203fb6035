"""The search page, /search?q=: one query over models, datasets, spaces and code, people and
organizations, grouped by type with counts and the first few of each, each type linking to its
listing, which pages, filters and sorts them. The header's box submits here (`search=` as before);
as one types, its dropdown asks /api/quicksearch (static/search.js)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError
from csghub.http.deps import get_hub
from csghub.services.repositories import search as searching
from csghub.web import first_steps
from csghub.web.render import page_actor, render, render_error

router = APIRouter(include_in_schema=False)


def _all_url(kind: str, text: str) -> str:
    return f"/{kind}" + (f"?{urlencode({'search': text})}" if text else "")


@router.get("/search", response_class=HTMLResponse)
async def search(request: Request) -> Response:
    hub = get_hub(request)
    actor = await page_actor(request)
    params = request.query_params
    text = params.get("q") or params.get("search") or ""

    def work() -> Response:
        found = searching.search_everything(hub, actor, text)
        sections = [(s.repo_type.plural, s, _all_url(s.repo_type.plural, found.text)) for s in found.sections]
        return render(
            request,
            "search.html",
            text=found.text,
            sections=sections,
            found=found,
            steps=first_steps.steps(request, actor),
        )

    try:
        return await run_in_threadpool(work)
    except HubError as exc:
        return render_error(request, exc, exc.status)
