"""The body of a webhook delivery, in Hugging Face's shape (huggingface_hub's WebhookPayload, version 3):
`event` {action, scope}, `repo` {type, name, id, private, url {web, api}, headSha, owner}, and as the
event needs them `updatedRefs`, `updatedConfig`, `movedTo`, `discussion` and `comment`; `webhook`
{id, version} names the receiving webhook. Built when the event happens, from the rows of the
transaction that made it, so a delivery says what was true then."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.db.models import Discussion, DiscussionComment, Repo
from csghub.services.context import Hub, RepoEvent

VERSION = 3
MAX_REFS = 100  # a payload cut for size keeps this many updated refs


def base_url(hub: Hub) -> str:
    """Where the links in a payload point: the public URL, else the address this process serves on."""
    settings = hub.settings
    own = hub.compute.hub_url or f"http://{settings.host}:{settings.port}"
    return (settings.public_url or own).rstrip("/")


def _repo_urls(hub: Hub, repo_type: str, full_name: str) -> dict[str, str]:
    page = f"/{full_name}" if repo_type == "model" else f"/{repo_type}s/{full_name}"
    return {"web": base_url(hub) + page, "api": f"{base_url(hub)}/api/{repo_type}s/{full_name}"}


def repo_part(hub: Hub, row: Repo, full_name: str) -> dict[str, Any]:
    return {
        "type": row.type,
        "name": full_name,
        "id": str(row.id),
        "private": row.visibility != "public",
        "url": _repo_urls(hub, row.type, full_name),
        "headSha": row.head_sha or None,
        "owner": {"id": str(row.namespace_id)},
        "tags": json.loads(row.tags or "[]"),
    }


def _discussion_part(session: Session, repo: dict[str, Any], number: int) -> tuple[Discussion, dict[str, Any]]:
    row = session.scalar(select(Discussion).where(Discussion.repo_id == int(repo["id"]), Discussion.number == number))
    if row is None:
        raise LookupError(f"discussion #{number} of repository {repo['id']} is gone")
    web = f"{repo['url']['web']}/discussions/{number}"
    part = {
        "id": str(row.id),
        "num": row.number,
        "author": {"id": str(row.author_id or "")},
        "title": row.title,
        "isPullRequest": False,
        "status": row.status,
        "url": {"web": web, "api": f"{repo['url']['api']}/discussions/{number}"},
    }
    return row, part


def _comment_part(session: Session, discussion: dict[str, Any], comment_id: int) -> dict[str, Any]:
    row = session.get(DiscussionComment, comment_id)
    if row is None:
        raise LookupError(f"comment {comment_id} is gone")
    return {
        "id": str(row.id),
        "author": {"id": str(row.author_id or "")},
        "hidden": False,
        "content": row.body,
        "url": {"web": f"{discussion['url']['web']}#{row.id}"},
    }


def event_parts(session: Session, hub: Hub, row: Repo, full_name: str, event: RepoEvent) -> dict[str, Any]:
    """Everything of a payload but `webhook`, which each receiving webhook adds."""
    detail = event.detail
    name = str(detail.get("from") or full_name)  # a move names the repository as it was
    parts: dict[str, Any] = {"event": {"action": event.action, "scope": event.scope}, "repo": repo_part(hub, row, name)}
    if event.scope == "repo.content":
        parts["updatedRefs"] = [{"ref": ref, "oldSha": old, "newSha": new} for ref, old, new in detail["refs"]]
    elif event.scope == "repo.config":
        parts["updatedConfig"] = detail.get("updatedConfig", {})
    elif event.action == "move":
        parts["movedTo"] = {"name": full_name, "owner": {"id": str(row.namespace_id)}}
    if event.scope.startswith("discussion"):
        _row, parts["discussion"] = _discussion_part(session, parts["repo"], int(detail["number"]))
        if "comment" in detail:
            parts["comment"] = _comment_part(session, parts["discussion"], int(detail["comment"]))
    return parts


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _cut(text: str, budget: int) -> str:
    """The longest start of `text` whose JSON string takes at most `budget` bytes (a binary search)."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if len(_dumps(text[:middle]).encode()) <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low]


def encode(parts: dict[str, Any], webhook_id: int, limit: int) -> str:
    """The JSON body for one webhook, cut to `limit` bytes: the refs to MAX_REFS, then a comment's text."""
    payload = {**parts, "webhook": {"id": str(webhook_id), "version": VERSION}}
    text = _dumps(payload)
    if len(text.encode()) <= limit:
        return text
    if "updatedRefs" in payload:
        payload["updatedRefs"] = payload["updatedRefs"][:MAX_REFS]
    if payload.get("comment", {}).get("content"):
        content = payload["comment"]["content"]
        around = len(_dumps(payload).encode()) - len(_dumps(content).encode())
        payload["comment"] = {**payload["comment"], "content": _cut(content, max(2, limit - around))}
    return _dumps(payload)
