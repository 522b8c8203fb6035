"""GET /metrics: the Prometheus text exposition, for site administrators' tokens (404 to anyone else)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from csghub.http.deps import get_actor, get_hub
from csghub.services.observability.scrape import scrape

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    hub = get_hub(request)
    actor = await get_actor(request)
    # The database's figures are read during the scrape: off the event loop.
    body, content_type = await run_in_threadpool(scrape, hub.metrics, actor)
    return Response(body, media_type=content_type)
