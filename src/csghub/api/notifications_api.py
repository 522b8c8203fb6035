"""Notifications over the API: one's own, newest first (paged, all or unread), the unread count, marking
one or all read. Only the signed-in person's own are ever reachable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.serialize import iso, ok
from csghub.http.bodies import bool_field, read_json_object
from csghub.http.deps import get_actor, get_hub
from csghub.http.openapi import API_ERRORS, FLAG, TEXT, WHOLE, WRITE_ERRORS, json_body, query
from csghub.http.params import RowId, page_number
from csghub.services.community import notifications
from csghub.services.permissions import Actor

router = APIRouter(responses=API_ERRORS)


def notification_json(item: notifications.NotificationView) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "actor": item.actor,
        "repo": {"name": item.repo, "type": item.repo_type.value} if item.repo_type else None,
        "number": item.number,
        "organization": item.org or None,
        "title": item.title,
        "excerpt": item.excerpt,
        "created_at": iso(item.created_at),
        "read": item.read,
    }


@router.get("/api/v1/notifications", openapi_extra=query(filter=TEXT, page=WHOLE))
async def list_notifications(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    params = request.query_params
    unread_only = notifications.check_filter(params.get("filter", ""))
    page = page_number(params.get("page"))
    found = await run_in_threadpool(
        lambda: notifications.list_notifications(
            get_hub(request), actor, unread_only=unread_only, offset=(page - 1) * notifications.PAGE
        )
    )
    return ok(
        {
            "items": [notification_json(n) for n in found.items],
            "total": found.total,
            "unread": found.unread,
            "page": page,
            "per_page": notifications.PAGE,
        }
    )


@router.get("/api/v1/notifications/count")
async def unread_count(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    count = await run_in_threadpool(notifications.count_unread, get_hub(request), actor)
    return ok({"unread": count})


@router.post("/api/v1/notifications/read", responses=WRITE_ERRORS)
async def mark_all_read(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    count = await run_in_threadpool(notifications.mark_all_read, get_hub(request), actor)
    return ok({"marked": count})


@router.put("/api/v1/notifications/{notification_id}", responses=WRITE_ERRORS, openapi_extra=json_body(read=FLAG))
async def mark_read(request: Request, notification_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    """{"read": true} marks it read, {"read": false} unread again."""
    body = await read_json_object(request, optional=True)
    read = bool_field(body, "read")
    await run_in_threadpool(
        lambda: notifications.mark_read(get_hub(request), actor, notification_id, read=read is not False)
    )
    return ok(None)
