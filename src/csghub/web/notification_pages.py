"""Notifications in the portal: /notifications (all or unread, paged), marking one or all read. Only one's
own are ever shown; a notification about a repository one can no longer read is simply not there."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.params import RowId, page_number
from csghub.services.community import notifications
from csghub.services.permissions import Actor
from csghub.web.forms import form_actor, run_page
from csghub.web.render import render, repo_path

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)


def target_of(item: notifications.NotificationView) -> str:
    """Where a notification leads: the discussion, the repository's access requests, one's invitations."""
    if item.kind == "invitation":
        return "/settings#invitations"
    if item.repo_type is None:
        return "/notifications"
    base = repo_path(item.repo_type, item.repo)
    if item.kind == "access_request":
        return f"{base}/settings#gating"
    return f"{base}/discussions/{item.number}" if item.number else base


@router.get("/notifications", response_class=HTMLResponse)
async def notifications_page(request: Request) -> Response:
    hub = get_hub(request)
    params = request.query_params
    page = page_number(params.get("page"))

    def work(actor: Actor) -> Response:
        unread_only = notifications.check_filter(params.get("filter", ""))
        found = notifications.list_notifications(
            hub, actor, unread_only=unread_only, offset=(page - 1) * notifications.PAGE
        )
        pages = max(1, math.ceil(found.total / notifications.PAGE))
        base = "/notifications?filter=unread" if unread_only else "/notifications?filter=all"
        return render(
            request,
            "notifications.html",
            found=found,
            unread_only=unread_only,
            target_of=target_of,
            prev_url=f"{base}&page={page - 1}" if page > 1 else None,
            next_url=f"{base}&page={page + 1}" if page < pages else None,
        )

    return await run_page(request, work)


def _back(fields: dict[str, str]) -> str:
    # Back to the list the button was on (only our own page: never an address from the form).
    return "/notifications?filter=unread" if fields.get("filter") == "unread" else "/notifications"


@router.post("/notifications/read", response_class=HTMLResponse)
async def mark_all_read(request: Request) -> Response:
    fields, actor = await form_actor(request)
    await run_in_threadpool(notifications.mark_all_read, get_hub(request), actor)
    return RedirectResponse(_back(fields), status_code=303)


@router.post("/notifications/{notification_id}/read", response_class=HTMLResponse)
async def mark_read(request: Request, notification_id: RowId) -> Response:
    fields, actor = await form_actor(request)
    read = fields.get("read", "1") != "0"
    await run_in_threadpool(lambda: notifications.mark_read(get_hub(request), actor, notification_id, read=read))
    return RedirectResponse(_back(fields), status_code=303)
