"""The listings, /models, /datasets, /spaces and /codes: a search box, filter chips with counts per
facet, a sort, and a page of cards. Every choice lives in the URL, so a filtered listing is a link to
share; a chip's link adds its value (or swaps the facet's previous one), a chosen chip's link drops it.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from csghub.core.names import RepoType
from csghub.http.deps import get_hub
from csghub.http.params import page_number
from csghub.services.permissions import Actor
from csghub.services.repositories import facet_counts, repos
from csghub.web import first_steps, space_cards
from csghub.web.render import render

PAGE_SIZE = 30
KINDS = {"models": RepoType.MODEL, "datasets": RepoType.DATASET, "spaces": RepoType.SPACE, "codes": RepoType.CODE}
FILTER_LABELS = {
    "task": "Task",
    "subtask": "Subtask",
    "library": "Library",
    "license": "License",
    "language": "Language",
    "size": "Size category",
    "sdk": "SDK",
    facet_counts.SIZE_FACET: "Size",
}
SORTS = (
    ("trending", "Trending"),
    ("lastModified", "Recently updated"),
    ("downloads", "Most downloads"),
    ("likes", "Most likes"),
)


class Links:
    """The listing's URL with one thing changed: a page, a chip, a free tag."""

    def __init__(self, kind: str, state: dict[str, str], tags: list[str]) -> None:
        self.kind, self.state, self.tags = kind, state, tags

    def url(self, page: int = 1, changes: dict[str, str] | None = None) -> str:
        state: dict[str, Any] = {k: v for k, v in {**self.state, **(changes or {})}.items() if v}
        if state.get("sort") == "trending":
            del state["sort"]
        state["tag"] = self.tags
        if page > 1:
            state["page"] = page
        encoded = urlencode(state, doseq=True)
        return f"/{self.kind}?{encoded}" if encoded else f"/{self.kind}"

    def without_tag(self, tag: str) -> str:
        return Links(self.kind, self.state, [t for t in self.tags if t != tag]).url()


def listing_page(request: Request, kind: str, actor: Actor) -> Response:
    hub, params = get_hub(request), request.query_params
    repo_type = KINDS[kind]
    facets = facet_counts.chip_facets(repo_type)
    chosen = {f: params.get(f, "").strip() for f in facets}
    state = {"search": params.get("search", "").strip(), "author": params.get("author", "").strip(), **chosen}
    state["sort"] = params.get("sort", "trending") if params.get("sort") in dict(SORTS) else "trending"
    links = Links(kind, state, [t for t in params.getlist("tag") if t])
    page = page_number(params.get("page"))
    base = repos.RepoQuery(
        repo_type=repo_type,
        text=state["search"],
        author=state["author"],
        tags=tuple(links.tags),
        sort="trendingScore" if state["sort"] == "trending" else state["sort"],
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    query = facet_counts.narrowed(base, chosen)
    total = repos.count_repos(hub, actor, query)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:
        # Past the end (an old link, a typed number, fewer results since): the last page, at its own URL.
        return RedirectResponse(links.url(pages), status_code=303)
    found = repos.list_repos(hub, actor, query)
    chips = facet_counts.count_chips(hub, actor, base, chosen)
    return render(
        request,
        "list.html",
        kind=kind,
        title=kind.capitalize(),
        chip_groups=[(f, FILTER_LABELS[f], chips[f]) for f in facets if chips[f]],
        chips_of=chips,
        # Any value can be typed too (the chips show the most common ones); sizes are chips only.
        typed_filters=[(f, FILTER_LABELS[f]) for f in facets if f != facet_counts.SIZE_FACET],
        chip_url=lambda chip: links.url(changes={chip.facet: "" if chip.selected else chip.value}),
        chosen=[(f, FILTER_LABELS[f], v, links.url(changes={f: ""})) for f, v in chosen.items() if v],
        tag_chips=[(tag, links.without_tag(tag)) for tag in links.tags],
        q=state,
        sorts=SORTS,
        repos=found,
        total=total,
        page=page,
        pages=pages,
        prev_url=links.url(page - 1) if page > 1 else None,
        next_url=links.url(page + 1) if page < pages else None,
        clear_url=f"/{kind}",
        filtered=any(v for k, v in state.items() if k != "sort") or bool(links.tags),
        space_cards=space_cards.listing_cards(hub, actor, found) if repo_type is RepoType.SPACE else {},
        steps=first_steps.steps(request, actor),
    )
