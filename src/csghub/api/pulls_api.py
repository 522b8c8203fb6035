"""A discussion's details (with a pull request's diff, target, merge commit and conflicting files),
merging a pull request and renaming a discussion, on Hugging Face's paths and in the JSON shapes
huggingface_hub's get_discussion_details, merge_pull_request and rename_discussion read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.social import REPO, discussion_json, event_json
from csghub.core.names import RepoId, RepoType
from csghub.http.bodies import read_json_object, text_field
from csghub.http.deps import get_actor, get_hub
from csghub.http.openapi import API_ERRORS, TEXT, WRITE_ERRORS, json_body
from csghub.http.params import RowId
from csghub.services.community import discussions, pulls
from csghub.services.permissions import Actor
from csghub.services.repositories.writes import VIA_API

router = APIRouter(responses=API_ERRORS)


def _ids(type_plural: str, namespace: str, name: str) -> tuple[RepoType, RepoId]:
    return RepoType.parse(type_plural), RepoId.of(namespace, name)


def details_json(found: discussions.DiscussionView | pulls.PullDetails) -> dict[str, Any]:
    if isinstance(found, discussions.DiscussionView):
        return {**discussion_json(found), "events": [event_json(e) for e in found.events]}
    view = found.discussion
    return {
        **discussion_json(view),
        "events": [event_json(e) for e in view.events],
        "changes": {"base": view.target_branch, "mergeCommitId": view.merge_commit_oid or None},
        "filesWithConflicts": list(found.conflicts),
        "diff": found.diff,  # cut at a bound, with a note at its end, when "diffTruncated"
        "diffTruncated": found.diff_cut,
    }


@router.get(REPO + "/discussions/{number}")
async def discussion_details(
    request: Request, type_plural: str, namespace: str, name: str, number: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    repo_type, repo_id = _ids(type_plural, namespace, name)
    found = await run_in_threadpool(pulls.get_details, get_hub(request), actor, repo_type, repo_id, number)
    return JSONResponse(details_json(found))


@router.post(REPO + "/discussions/{number}/merge", responses=WRITE_ERRORS, openapi_extra=json_body(comment=TEXT))
async def merge(
    request: Request, type_plural: str, namespace: str, name: str, number: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    note = text_field(await read_json_object(request, optional=True), "comment")
    repo_type, repo_id = _ids(type_plural, namespace, name)
    event = await run_in_threadpool(
        lambda: pulls.merge_pull(get_hub(request), actor, repo_type, repo_id, number, comment=note, via=VIA_API)
    )
    return JSONResponse({"newStatus": event_json(event)})


@router.post(REPO + "/discussions/{number}/title", responses=WRITE_ERRORS, openapi_extra=json_body("title", title=TEXT))
async def rename(
    request: Request, type_plural: str, namespace: str, name: str, number: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    title = text_field(await read_json_object(request), "title", required=True)
    repo_type, repo_id = _ids(type_plural, namespace, name)
    event = await run_in_threadpool(
        discussions.rename_discussion, get_hub(request), actor, repo_type, repo_id, number, title
    )
    return JSONResponse({"newTitle": event_json(event)})
