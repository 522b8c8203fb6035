"""CSGHub's listings of repositories, `GET /api/v1/{models|datasets|spaces|codes}`, as the portal's
JavaScript and csghub-sdk page through them: `{"msg": "OK", "data": [...], "total": n}`.

Filters are the listing's tags (services/repositories/repos.py RepoQuery), named either as CSGHub names
them (`tag_category=task&tag_name=text-classification`, repeated in pairs) or by the card field
(`task_categories=`, `language=`, `size_categories=`, `task_ids=`, `license=`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.serialize import csg_repo_json
from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoType
from csghub.http.deps import get_actor, get_hub
from csghub.http.openapi import API_ERRORS, TEXT, WHOLE, query
from csghub.http.params import whole_number
from csghub.services.permissions import Actor
from csghub.services.repositories import facets, repos

router = APIRouter(responses=API_ERRORS)

# CSGHub's tag categories and card field names, and the listing filter each one is.
_CATEGORIES = {
    "task": "task",
    "task_categories": "task",
    "pipeline_tag": "task",
    "task_ids": "subtask",
    "subtask": "subtask",
    "language": "language",
    "size": "size",
    "size_categories": "size",
    "license": "license",
    "framework": "library",
    "library": "library",
}
_FIELD_PARAMS = ("task_categories", "task_ids", "language", "size_categories", "license")
# CSGHub's sort names, and ours (services/repositories/repos.py) that the listing also accepts.
_SORTS = {
    "trending": "trending",
    "recently_update": "lastModified",
    "most_download": "downloads",
    "most_favorite": "likes",
}
MAX_PER = 100


def _tags(request: Request, repo_type: RepoType) -> tuple[str, ...]:
    params = request.query_params
    categories, names = params.getlist("tag_category"), params.getlist("tag_name")
    if len(categories) != len(names):
        raise InvalidArgument("'tag_category' and 'tag_name' come in pairs: give one 'tag_name' for each category")
    pairs = list(zip(categories, names, strict=True))
    pairs += [(key, value) for key in _FIELD_PARAMS for value in params.getlist(key)]
    tags = []
    for category, name in pairs:
        facet = _CATEGORIES.get(category)
        if facet is None:
            choices = ", ".join(sorted(_CATEGORIES))
            raise InvalidArgument(f"Unknown tag category '{category}': use one of {choices}")
        if not name:
            raise InvalidArgument(f"The '{category}' filter needs a value")
        tags.append(facets.facet_tag(repo_type, facet, name))
    return tuple(tags + [t for t in params.getlist("tag") if t])


def _query(request: Request, repo_type: RepoType) -> repos.RepoQuery:
    params = request.query_params
    per = whole_number(params.get("per"), "per", maximum=MAX_PER) or 16
    page = whole_number(params.get("page"), "page", maximum=1_000_000) or 1
    sort = params.get("sort") or "trending"
    return repos.RepoQuery(
        repo_type=repo_type,
        text=params.get("search") or "",
        author=params.get("author") or "",
        tags=_tags(request, repo_type),
        sort=_SORTS.get(sort, sort),
        limit=max(per, 1),
        offset=(max(page, 1) - 1) * max(per, 1),
    )


def listing_json(view: repos.RepoView) -> dict[str, Any]:
    out = csg_repo_json(view)
    if view.type is RepoType.DATASET:
        out["num_rows"] = view.num_rows
        out["size_category"] = view.size_category or None
    return out


@router.get(
    "/api/v1/{type_plural:repo_type}",
    openapi_extra=query(
        search=TEXT,
        author=TEXT,
        sort=TEXT,
        tag_category=TEXT,
        tag_name=TEXT,
        tag=TEXT,
        task_categories=TEXT,
        task_ids=TEXT,
        language=TEXT,
        size_categories=TEXT,
        license=TEXT,
        per=WHOLE,
        page=WHOLE,
    ),
)
async def list_repos(request: Request, type_plural: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    query_ = _query(request, RepoType.parse(type_plural))
    views, total = await run_in_threadpool(repos.list_repos_counted, get_hub(request), actor, query_)
    return JSONResponse({"msg": "OK", "data": [listing_json(v) for v in views], "total": total})
