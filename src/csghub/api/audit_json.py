"""The audit log as JSON, shared by the admin and organization routes."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.serialize import iso, ok
from csghub.core.errors import InvalidArgument
from csghub.http.deps import get_hub
from csghub.services import audit
from csghub.services.permissions import Actor


def _int_param(request: Request, key: str) -> int | None:
    value = request.query_params.get(key)
    if value is None:
        return None
    if not value.isdigit():
        raise InvalidArgument(f"Query parameter '{key}' must be a whole number")
    return int(value)


async def audit_page(request: Request, actor: Actor, *, namespace: str = "") -> JSONResponse:
    """Newest first; page on with ?before=<id of the last event seen>."""
    events = await run_in_threadpool(
        lambda: audit.list_events(
            get_hub(request),
            actor,
            namespace=namespace,
            action=request.query_params.get("action", ""),
            before_id=_int_param(request, "before"),
            limit=_int_param(request, "limit") or 100,
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
