"""The header's search: one query over models, datasets, spaces and code, the first few of each type
with a link to that type's listing, which pages, filters and sorts them."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError
from csghub.core.names import RepoType
from csghub.http.deps import get_hub
from csghub.services.repositories import repos
from csghub.web.render import page_actor, render, render_error

router = APIRouter(include_in_schema=False)
PER_TYPE = 5
TYPES = (RepoType.MODEL, RepoType.DATASET, RepoType.SPACE, RepoType.CODE)


@dataclass(frozen=True, slots=True)
class Section:
    kind: str  # the plural in the listing's URL
    total: int
    repos: list[repos.RepoView]
    all_url: str


@router.get("/search", response_class=HTMLResponse)
async def search(request: Request) -> Response:
    hub = get_hub(request)
    actor = await page_actor(request)
    text = request.query_params.get("search", "").strip()

    def work() -> Response:
        sections = []
        for repo_type in TYPES:
            # The listing's own query (same text match, same default order), so "see all" continues it.
            query = repos.RepoQuery(repo_type=repo_type, text=text, sort="trendingScore", limit=PER_TYPE)
            all_url = f"/{repo_type.plural}" + (f"?{urlencode({'search': text})}" if text else "")
            total = repos.count_repos(hub, actor, query)
            found = repos.list_repos(hub, actor, query) if total else []
            sections.append(Section(repo_type.plural, total, found, all_url))
        return render(request, "search.html", text=text, sections=sections, total=sum(s.total for s in sections))

    try:
        return await run_in_threadpool(work)
    except HubError as exc:
        return render_error(request, exc, exc.status)
