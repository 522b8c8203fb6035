"""The audit log as JSON, shared by the admin and organization routes."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.serialize import iso, ok
from csghub.http.deps import get_hub
from csghub.http.params import MAX_ID, whole_number
from csghub.services import audit
from csghub.services.permissions import Actor


async def audit_page(request: Request, actor: Actor, *, namespace: str = "") -> JSONResponse:
    """Newest first; page on with ?before=<id of the last event seen>."""
    events = await run_in_threadpool(
        lambda: audit.list_events(
            get_hub(request),
            actor,
            namespace=namespace,
            action=request.query_params.get("action", ""),
            before_id=whole_number(request.query_params.get("before"), "before", maximum=MAX_ID),
            limit=whole_number(request.query_params.get("limit"), "limit") or 100,
        )
    )
    return ok(
        [
            {
                "id": e.id,
                "time": iso(e.created_at),
                "actor": e.actor,
                "action": e.action,
                "namespace": e.namespace,
                "target": e.target,
                "detail": e.detail,
                "remote_addr": e.remote_addr,
            }
            for e in events
        ]
    )
