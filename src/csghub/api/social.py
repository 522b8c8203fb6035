"""Likes and discussions on Hugging Face's paths, in the JSON shapes huggingface_hub reads: unlike,
list_liked_repos, get_repo_discussions, create_discussion (and create_pull_request), comment_discussion
and change_discussion_status work unchanged against the hub. A discussion's details, merging and
renaming are in api/pulls_api.py."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.pagination import next_link, parse_cursor
from csghub.api.serialize import iso
from csghub.core.names import RepoId, RepoType
from csghub.http.bodies import bool_field, read_json_object, text_field
from csghub.http.deps import get_actor, get_hub
from csghub.http.openapi import API_ERRORS, FLAG, TEXT, WHOLE, WRITE_ERRORS, json_body, query
from csghub.http.params import RowId, whole_number
from csghub.services.community import discussions, likes, pulls
from csghub.services.permissions import Actor
from csghub.services.repositories.writes import VIA_API

router = APIRouter(responses=API_ERRORS)
REPO = "/api/{type_plural:repo_type}/{namespace}/{name}"
PAGE = 50


def _ids(type_plural: str, namespace: str, name: str) -> tuple[RepoType, RepoId]:
    return RepoType.parse(type_plural), RepoId.of(namespace, name)


def _author(name: str) -> dict[str, Any]:
    # huggingface_hub shows "deleted" when the author is missing.
    return {"author": {"name": name, "type": "user"}} if name else {}


def event_json(event: discussions.EventView) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(event.id), "type": event.kind, "createdAt": iso(event.created_at)}
    out.update(_author(event.author))
    if event.kind == "status-change":
        out["data"] = {"status": event.body}
        return out
    if event.kind == "title-change":
        out["data"] = {"from": event.old_title, "to": event.body}
        return out
    if event.kind == "commit":
        out["id"] = event.oid  # commits are no stored event: their id is theirs
        out["data"] = {"subject": event.body, "oid": event.oid}
        return out
    latest = {
        "raw": event.body,
        # The portal renders markdown; API clients get the text escaped, which is always safe to show.
        "html": f"<p>{html.escape(event.body)}</p>",
        "updatedAt": iso(event.edited_at or event.created_at),
        **_author(event.author),
    }
    out["data"] = {
        "edited": event.edited_at is not None,
        "hidden": False,
        "numEdits": 1 if event.edited_at is not None else 0,
        "editors": [event.author] if event.author else [],
        "latest": latest,
        "history": [latest],
    }
    return out


def discussion_json(d: discussions.DiscussionView) -> dict[str, Any]:
    return {
        "num": d.number,
        "title": d.title,
        "status": d.status,
        "createdAt": iso(d.created_at),
        **_author(d.author),
        "repo": {"name": d.repo.full_name, "type": d.repo.type.value},
        "isPullRequest": d.is_pull_request,
        "numComments": d.comments,
        "pinned": False,
        "topReactions": [],
    }


@router.post(REPO + "/like", responses=WRITE_ERRORS)
@router.delete(REPO + "/like", responses=WRITE_ERRORS)
async def like(
    request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    """POST likes, DELETE unlikes; both are idempotent and answer the new count."""
    liked = request.method == "POST"
    repo_type, repo_id = _ids(type_plural, namespace, name)
    count = await run_in_threadpool(likes.set_like, get_hub(request), actor, repo_type, repo_id, liked)
    return JSONResponse({"likes": count})


@router.get("/api/users/{user}/likes", openapi_extra=query(cursor=TEXT))
async def liked_repos(request: Request, user: str, actor: Actor = Depends(get_actor)) -> JSONResponse:
    offset = parse_cursor(request.query_params.get("cursor"))
    found = await run_in_threadpool(
        lambda: likes.list_liked(get_hub(request), actor, user, limit=PAGE * 20, offset=offset)
    )
    data = [
        {
            "createdAt": iso(item.liked_at),
            "repo": {"name": item.repo.full_name, "type": item.repo.type.value},
        }
        for item in found
    ]
    headers = next_link(request, offset + len(found)) if len(found) == PAGE * 20 else {}
    return JSONResponse(data, headers=headers)


@router.get(REPO + "/discussions", openapi_extra=query(p=WHOLE, status=TEXT, author=TEXT, type=TEXT))
async def list_discussions(
    request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    params = request.query_params
    page = whole_number(params.get("p"), "p") or 0
    status = params.get("status", "")
    status = "" if status == "all" else status
    kind = params.get("type", "")
    kind = "" if kind == "all" else kind
    repo_type, repo_id = _ids(type_plural, namespace, name)
    found = await run_in_threadpool(
        lambda: discussions.list_discussions(
            get_hub(request),
            actor,
            repo_type,
            repo_id,
            status=status,
            author=params.get("author", ""),
            kind=kind,
            limit=PAGE,
            offset=page * PAGE,
        )
    )
    return JSONResponse(
        {
            "discussions": [discussion_json(d) for d in found.items],
            "count": found.total,
            "start": page * PAGE,
            "numClosedDiscussions": found.closed,
        }
    )


@router.post(
    REPO + "/discussions",
    responses=WRITE_ERRORS,
    openapi_extra=json_body("title", "description", title=TEXT, description=TEXT, pullRequest=FLAG),
)
async def create_discussion(
    request: Request, type_plural: str, namespace: str, name: str, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    body = await read_json_object(request)
    title, description = text_field(body, "title", required=True), text_field(body, "description", required=True)
    repo_type, repo_id = _ids(type_plural, namespace, name)
    hub = get_hub(request)
    if bool_field(body, "pullRequest"):  # create_pull_request: an empty draft, commits then go to refs/pr/N
        made = await run_in_threadpool(
            lambda: pulls.open_pull(hub, actor, repo_type, repo_id, title, description, via=VIA_API)
        )
        return JSONResponse(discussion_json(made))
    created = await run_in_threadpool(discussions.open_discussion, hub, actor, repo_type, repo_id, title, description)
    return JSONResponse(discussion_json(created))


@router.post(
    REPO + "/discussions/{number}/comment", responses=WRITE_ERRORS, openapi_extra=json_body("comment", comment=TEXT)
)
async def comment(
    request: Request, type_plural: str, namespace: str, name: str, number: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    text = text_field(await read_json_object(request), "comment", required=True)
    event = await run_in_threadpool(
        discussions.add_comment, get_hub(request), actor, *_ids(type_plural, namespace, name), number, text
    )
    return JSONResponse({"newMessage": event_json(event)})


@router.post(
    REPO + "/discussions/{number}/status",
    responses=WRITE_ERRORS,
    openapi_extra=json_body("status", status=TEXT, comment=TEXT),
)
@router.patch(
    REPO + "/discussions/{number}/status",
    responses=WRITE_ERRORS,
    openapi_extra=json_body("status", status=TEXT, comment=TEXT),
)
async def change_status(
    request: Request, type_plural: str, namespace: str, name: str, number: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    body = await read_json_object(request)
    status, note = text_field(body, "status", required=True), text_field(body, "comment")
    repo_type, repo_id = _ids(type_plural, namespace, name)
    event = await run_in_threadpool(
        lambda: discussions.set_status(get_hub(request), actor, repo_type, repo_id, number, status, comment=note)
    )
    return JSONResponse({"newStatus": event_json(event)})


@router.post(
    REPO + "/discussions/{number}/comment/{comment_id}/edit",
    responses=WRITE_ERRORS,
    openapi_extra=json_body("content", content=TEXT),
)
async def edit_comment(
    request: Request,
    type_plural: str,
    namespace: str,
    name: str,
    number: RowId,
    comment_id: RowId,
    actor: Actor = Depends(get_actor),
) -> JSONResponse:
    text = text_field(await read_json_object(request), "content", required=True)
    repo_type, repo_id = _ids(type_plural, namespace, name)
    event = await run_in_threadpool(
        lambda: discussions.edit_comment(get_hub(request), actor, repo_type, repo_id, number, comment_id, text)
    )
    return JSONResponse({"updatedComment": event_json(event)})
