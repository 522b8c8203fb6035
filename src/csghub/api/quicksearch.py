"""`GET /api/quicksearch?q=`: the few best matches over every repository type, people and
organizations, for the portal's search-as-you-type dropdown (and any client that wants the same).

Shaped like the Hugging Face Hub's answer of that name: a list per kind with the full count of each
repository type beside it. What the caller may not read is neither listed nor counted."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.core.names import RepoType
from csghub.http.deps import get_actor, get_hub
from csghub.http.openapi import API_ERRORS, TEXT, WHOLE, query
from csghub.http.params import whole_number
from csghub.services.permissions import Actor
from csghub.services.repositories import repos, search

router = APIRouter(responses=API_ERRORS)


def _page(repo: repos.RepoView) -> str:
    # The portal's page of the repository: models at the root, as on the Hugging Face Hub.
    return f"/{repo.full_name}" if repo.type is RepoType.MODEL else f"/{repo.type.plural}/{repo.full_name}"


def _answer(found: search.Results) -> dict[str, Any]:
    out: dict[str, Any] = {"q": found.text}
    for section in found.sections:
        kind = section.repo_type.plural
        out[kind] = [
            {"id": r.full_name, "type": r.type.value, "private": r.private, "url": _page(r)} for r in section.repos
        ]
        out[f"{kind}Count"] = section.total
    out["users"] = [{"user": p.name, "fullname": p.full_name} for p in found.people if p.kind == "user"]
    out["orgs"] = [{"name": p.name, "fullname": p.full_name} for p in found.people if p.kind == "org"]
    return out


@router.get("/api/quicksearch", openapi_extra=query(q=TEXT, limit=WHOLE))
async def quicksearch(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    params = request.query_params
    limit = whole_number(params.get("limit"), "limit", maximum=20) or search.QUICK_LIMIT
    found = await run_in_threadpool(search.quick_search, get_hub(request), actor, params.get("q", ""), limit=limit)
    return JSONResponse(_answer(found), headers={"Cache-Control": "private, no-store"})
