"""Profiles at /{name}: a user (their organizations) or an organization (its members and roles), with
what it says about itself (avatar, bio, links), tabs of the models, datasets, spaces and codes the viewer
may see, and a user's likes (only what the viewer may read). Unknown names are the 404 page."""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.names import RepoType
from csghub.http.deps import get_hub
from csghub.http.params import page_number
from csghub.services.community import likes
from csghub.services.compute import endpoints
from csghub.services.identity import profiles
from csghub.web.markdown import render_markdown
from csghub.web.render import page_actor, render

PAGE_SIZE = 30
TABS = {t.plural: t for t in profiles.REPO_TYPES}
LINK_LABELS = {"homepage": "Homepage", "github": "GitHub", "twitter": "Twitter / X", "linkedin": "LinkedIn"}


async def profile_page(request: Request, name: str) -> Response:
    hub = get_hub(request)
    actor = await page_actor(request)
    params = request.query_params
    page = page_number(params.get("page"))

    def work() -> Response:
        profile = profiles.get_profile(hub, actor, name)
        context: dict[str, Any] = {
            "profile": profile,
            "bio_html": render_markdown(profile.details.bio) if profile.details and profile.details.bio else "",
            "link_labels": LINK_LABELS,
            "tabs": [(t.plural, t, profile.counts[t]) for t in profiles.REPO_TYPES],
            "profile_endpoints": endpoints.list_endpoints(hub, actor, owner=profile.name),
        }
        if params.get("type") == "likes" and profile.kind == "user":
            # One more than a page tells whether there is a next one.
            liked = likes.list_liked(hub, actor, profile.name, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
            base = f"/{profile.name}?type=likes"
            return render(
                request,
                "profile.html",
                chosen="likes",
                repos=[item.repo for item in liked[:PAGE_SIZE]],
                prev_url=f"{base}&page={page - 1}" if page > 1 else None,
                next_url=f"{base}&page={page + 1}" if len(liked) > PAGE_SIZE else None,
                **context,
            )
        # Without a choice, open the first tab that has something in it.
        chosen = TABS.get(params.get("type", ""))
        if chosen is None:
            chosen = next((t for t in profiles.REPO_TYPES if profile.counts[t]), RepoType.MODEL)
        pages = max(1, math.ceil(profile.counts[chosen] / PAGE_SIZE))
        base = f"/{profile.name}?type={chosen.plural}"
        if page > pages:
            # Past the end: the last page, at its own URL, as the listings do.
            return RedirectResponse(base if pages == 1 else f"{base}&page={pages}", status_code=303)
        found = profiles.list_profile_repos(
            hub, actor, profile.name, chosen, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        return render(
            request,
            "profile.html",
            chosen=chosen,
            repos=found,
            prev_url=f"{base}&page={page - 1}" if page > 1 else None,
            next_url=f"{base}&page={page + 1}" if page < pages else None,
            **context,
        )

    return await run_in_threadpool(work)
