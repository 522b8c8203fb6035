"""Profiles at /{name}: a user (their organizations) or an organization (its members and roles), with
tabs of the models, datasets, spaces and codes the viewer may see. Unknown names are the 404 page."""

from __future__ import annotations

import math

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.names import RepoType
from csghub.http.deps import get_hub
from csghub.http.params import page_number
from csghub.services.compute import endpoints
from csghub.services.identity import profiles
from csghub.web.render import page_actor, render

PAGE_SIZE = 30
TABS = {t.plural: t for t in profiles.REPO_TYPES}


async def profile_page(request: Request, name: str) -> Response:
    hub = get_hub(request)
    actor = await page_actor(request)
    params = request.query_params
    page = page_number(params.get("page"))

    def work() -> Response:
        profile = profiles.get_profile(hub, actor, name)
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
            profile=profile,
            tabs=[(t.plural, t, profile.counts[t]) for t in profiles.REPO_TYPES],
            chosen=chosen,
            repos=found,
            profile_endpoints=endpoints.list_endpoints(hub, actor, owner=profile.name),
            prev_url=f"{base}&page={page - 1}" if page > 1 else None,
            next_url=f"{base}&page={page + 1}" if page < pages else None,
        )

    return await run_in_threadpool(work)
