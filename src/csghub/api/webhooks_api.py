"""Webhooks: Hugging Face's /api/settings/webhooks routes (what huggingface_hub's create_webhook,
list_webhooks, get_webhook, update_webhook, enable_webhook, disable_webhook and delete_webhook call, in
its JSON shapes), each webhook's delivery log and redelivery, and the same under CSGHub's
/api/v1/user/webhooks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from csghub.api.serialize import iso
from csghub.core.errors import InvalidArgument
from csghub.http.bodies import optional_text_field, read_json_object, text_list_field
from csghub.http.deps import get_actor, get_hub
from csghub.http.openapi import API_ERRORS, TEXT, TEXTS, WRITE_ERRORS, json_body
from csghub.http.params import RowId
from csghub.services.permissions import Actor
from csghub.services.webhooks import delivery_log, hooks

router = APIRouter(responses=API_ERRORS)
HF = "/api/settings/webhooks"
CSG = "/api/v1/user/webhooks"
WATCHED: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
BODY = json_body(url=TEXT, watched=WATCHED, domains=TEXTS, secret=TEXT, optional=True)


def webhook_json(view: hooks.WebhookView) -> dict[str, Any]:
    # The secret is never shown back (huggingface_hub reads it as optional): only deliveries carry it.
    return {
        "id": str(view.id),
        "url": view.url,
        "job": None,
        "watched": [{"type": w.kind, "name": w.name} for w in view.watched],
        "domains": list(view.domains),
        "secret": None,
        "hasSecret": view.has_secret,
        "disabled": view.disabled,
        "createdAt": iso(view.created_at),
        "updatedAt": iso(view.updated_at),
    }


def delivery_json(view: delivery_log.DeliveryView) -> dict[str, Any]:
    return {
        "id": str(view.id),
        "event": {"scope": view.scope, "action": view.action},
        "state": view.state,
        "attempts": view.attempts,
        "payload": view.payload,
        "requestHeaders": view.request_headers,
        "responseStatus": view.response_status,
        "responseExcerpt": view.response_excerpt,
        "durationMs": view.duration_ms,
        "error": view.error,
        "createdAt": iso(view.created_at),
        "deliveredAt": iso(view.delivered_at) if view.delivered_at else None,
        "nextAttemptAt": iso(view.next_attempt_at) if view.next_attempt_at else None,
        "redeliveryOf": str(view.redelivery_of) if view.redelivery_of else None,
    }


async def _spec(request: Request) -> hooks.WebhookSpec:
    body = await read_json_object(request, optional=True)
    if body.get("jobSourceId") is not None:
        raise InvalidArgument("This hub runs no jobs from webhooks: give a 'url'")
    domains = text_list_field(body, "domains")
    watched = hooks.parse_watched(body["watched"]) if body.get("watched") is not None else None
    return hooks.WebhookSpec(
        url=optional_text_field(body, "url"),
        watched=watched,
        domains=tuple(domains) if domains is not None else None,
        secret=optional_text_field(body, "secret"),
    )


@router.get(HF)
@router.get(CSG)
async def list_webhooks(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    found = await run_in_threadpool(hooks.list_webhooks, get_hub(request), actor)
    return JSONResponse([webhook_json(view) for view in found])


@router.post(HF, responses=WRITE_ERRORS, openapi_extra=BODY)
@router.post(CSG, responses=WRITE_ERRORS, openapi_extra=BODY)
async def create_webhook(request: Request, actor: Actor = Depends(get_actor)) -> JSONResponse:
    spec = await _spec(request)
    view = await run_in_threadpool(hooks.create_webhook, get_hub(request), actor, spec)
    return JSONResponse({"webhook": webhook_json(view)})


@router.get(HF + "/{webhook_id}")
@router.get(CSG + "/{webhook_id}")
async def get_webhook(request: Request, webhook_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    view = await run_in_threadpool(hooks.get_webhook, get_hub(request), actor, webhook_id)
    return JSONResponse({"webhook": webhook_json(view)})


@router.post(HF + "/{webhook_id}", responses=WRITE_ERRORS, openapi_extra=BODY)
@router.put(CSG + "/{webhook_id}", responses=WRITE_ERRORS, openapi_extra=BODY)
async def update_webhook(request: Request, webhook_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    spec = await _spec(request)
    view = await run_in_threadpool(hooks.update_webhook, get_hub(request), actor, webhook_id, spec)
    return JSONResponse({"webhook": webhook_json(view)})


@router.post(HF + "/{webhook_id}/enable", responses=WRITE_ERRORS)
@router.post(CSG + "/{webhook_id}/enable", responses=WRITE_ERRORS)
async def enable_webhook(request: Request, webhook_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    view = await run_in_threadpool(hooks.set_disabled, get_hub(request), actor, webhook_id, False)
    return JSONResponse({"webhook": webhook_json(view)})


@router.post(HF + "/{webhook_id}/disable", responses=WRITE_ERRORS)
@router.post(CSG + "/{webhook_id}/disable", responses=WRITE_ERRORS)
async def disable_webhook(request: Request, webhook_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    view = await run_in_threadpool(hooks.set_disabled, get_hub(request), actor, webhook_id, True)
    return JSONResponse({"webhook": webhook_json(view)})


@router.delete(HF + "/{webhook_id}", responses=WRITE_ERRORS)
@router.delete(CSG + "/{webhook_id}", responses=WRITE_ERRORS)
async def delete_webhook(request: Request, webhook_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    await run_in_threadpool(hooks.delete_webhook, get_hub(request), actor, webhook_id)
    return JSONResponse({})


@router.get(HF + "/{webhook_id}/deliveries")
@router.get(CSG + "/{webhook_id}/deliveries")
async def list_deliveries(request: Request, webhook_id: RowId, actor: Actor = Depends(get_actor)) -> JSONResponse:
    found = await run_in_threadpool(delivery_log.list_deliveries, get_hub(request), actor, webhook_id)
    return JSONResponse([delivery_json(view) for view in found])


@router.post(HF + "/{webhook_id}/deliveries/{delivery_id}/redeliver", responses=WRITE_ERRORS)
@router.post(CSG + "/{webhook_id}/deliveries/{delivery_id}/redeliver", responses=WRITE_ERRORS)
async def redeliver(
    request: Request, webhook_id: RowId, delivery_id: RowId, actor: Actor = Depends(get_actor)
) -> JSONResponse:
    hub = get_hub(request)
    view = await run_in_threadpool(delivery_log.redeliver, hub, actor, webhook_id, delivery_id)
    return JSONResponse({"delivery": delivery_json(view)})
