"""A signed-in person's webhooks, under /settings/webhooks: the list and a form to add one, and each
webhook's page (edit, enable or disable, delete, its deliveries with a Redeliver button). The secret is
write-only: the pages say whether one is set, never what it is. The services decide what is valid (what
may be watched, the target's address) and the form shows their reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, InvalidArgument
from csghub.http.deps import get_hub
from csghub.http.errors import PAGE_ROUTES
from csghub.http.params import RowId
from csghub.services.context import Hub
from csghub.services.permissions import Actor
from csghub.services.webhooks import delivery_log, hooks
from csghub.web.forms import drop_notice, form_actor, redirect_with_notice, signed_in_page, take_notice
from csghub.web.render import correctable, render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
WEBHOOKS = "/settings/webhooks"


def _spec(fields: dict[str, str]) -> hooks.WebhookSpec:
    """The form's fields: `watched` one "type:name" a line, a checkbox per domain, an optional secret."""
    watched = []
    for line in filter(None, (line.strip() for line in fields.get("watched", "").splitlines())):
        kind, colon, name = line.partition(":")
        if not colon:
            raise InvalidArgument(
                f"Write each watched item as type:name (user:alice, model:alice/bert), not {line[:80]!r}"
            )
        watched.append(hooks.Watched(kind.strip(), name.strip()))
    secret = fields.get("secret", "")
    return hooks.WebhookSpec(
        url=fields.get("url", ""),
        watched=tuple(watched),
        domains=tuple(d for d in hooks.DOMAINS if fields.get(f"domain_{d}")),
        # Left empty on the edit form, the secret stays; "remove_secret" clears it.
        secret="" if fields.get("remove_secret") else (secret or None),
    )


def _list_context(hub: Hub, actor: Actor) -> dict[str, Any]:
    return {"webhooks": hooks.list_webhooks(hub, actor)}


def _one_context(hub: Hub, actor: Actor, webhook_id: int) -> dict[str, Any]:
    webhook = hooks.get_webhook(hub, actor, webhook_id)
    return {
        "webhook": webhook,
        "watched_text": "\n".join(f"{w.kind}:{w.name}" for w in webhook.watched),
        "deliveries": delivery_log.list_deliveries(hub, actor, webhook_id),
    }


async def _page(request: Request, template: str, load: Callable[[Hub, Actor], dict[str, Any]]) -> Response:
    found = await signed_in_page(request)
    if isinstance(found, Response):
        return found
    context = await run_in_threadpool(load, get_hub(request), found)
    notice = take_notice(request, found)
    response = render(request, template, error=None, notice=notice, form={}, **context)
    return drop_notice(request, response, WEBHOOKS)


@router.get(WEBHOOKS, response_class=HTMLResponse)
async def webhooks_page(request: Request) -> Response:
    return await _page(request, "webhooks.html", _list_context)


@router.get(WEBHOOKS + "/{webhook_id}", response_class=HTMLResponse)
async def webhook_page(request: Request, webhook_id: RowId) -> Response:
    return await _page(request, "webhook.html", lambda hub, actor: _one_context(hub, actor, webhook_id))


async def _change(
    request: Request, webhook_id: int | None, change: Callable[[Hub, Actor, dict[str, str]], tuple[str, str]]
) -> Response:
    """Run one change; then to the page it names with its notice, or the form again with the reason."""
    hub = get_hub(request)
    fields, actor = await form_actor(request)
    try:
        notice, url = await run_in_threadpool(change, hub, actor, fields)
    except HubError as exc:
        if not correctable(exc):
            raise
        fields.pop("secret", None)  # never sent back to the browser
        if webhook_id is None:
            context = await run_in_threadpool(_list_context, hub, actor)
            template = "webhooks.html"
        else:
            context = await run_in_threadpool(_one_context, hub, actor, webhook_id)
            template = "webhook.html"
        return render(request, template, status=exc.status, error=exc.message, notice=None, form=fields, **context)
    return redirect_with_notice(request, actor, url, notice, path=WEBHOOKS)


@router.post(WEBHOOKS, response_class=HTMLResponse)
async def create_webhook(request: Request) -> Response:
    def change(hub: Hub, actor: Actor, fields: dict[str, str]) -> tuple[str, str]:
        made = hooks.create_webhook(hub, actor, _spec(fields))
        return "Webhook created", f"{WEBHOOKS}/{made.id}"

    return await _change(request, None, change)


@router.post(WEBHOOKS + "/{webhook_id}", response_class=HTMLResponse)
async def update_webhook(request: Request, webhook_id: RowId) -> Response:
    def change(hub: Hub, actor: Actor, fields: dict[str, str]) -> tuple[str, str]:
        spec = _spec(fields)
        if not spec.domains:
            raise InvalidArgument("Choose at least one of the repo and discussion events")
        hooks.update_webhook(hub, actor, webhook_id, spec)
        return "Webhook saved", f"{WEBHOOKS}/{webhook_id}"

    return await _change(request, webhook_id, change)


@router.post(WEBHOOKS + "/{webhook_id}/enable", response_class=HTMLResponse)
async def enable_webhook(request: Request, webhook_id: RowId) -> Response:
    def change(hub: Hub, actor: Actor, _fields: dict[str, str]) -> tuple[str, str]:
        hooks.set_disabled(hub, actor, webhook_id, False)
        return "Webhook enabled", f"{WEBHOOKS}/{webhook_id}"

    return await _change(request, webhook_id, change)


@router.post(WEBHOOKS + "/{webhook_id}/disable", response_class=HTMLResponse)
async def disable_webhook(request: Request, webhook_id: RowId) -> Response:
    def change(hub: Hub, actor: Actor, _fields: dict[str, str]) -> tuple[str, str]:
        hooks.set_disabled(hub, actor, webhook_id, True)
        return "Webhook disabled", f"{WEBHOOKS}/{webhook_id}"

    return await _change(request, webhook_id, change)


@router.post(WEBHOOKS + "/{webhook_id}/delete", response_class=HTMLResponse)
async def delete_webhook(request: Request, webhook_id: RowId) -> Response:
    def change(hub: Hub, actor: Actor, _fields: dict[str, str]) -> tuple[str, str]:
        hooks.delete_webhook(hub, actor, webhook_id)
        return "Webhook deleted", WEBHOOKS

    return await _change(request, webhook_id, change)


@router.post(WEBHOOKS + "/{webhook_id}/deliveries/{delivery_id}/redeliver", response_class=HTMLResponse)
async def redeliver(request: Request, webhook_id: RowId, delivery_id: RowId) -> Response:
    def change(hub: Hub, actor: Actor, _fields: dict[str, str]) -> tuple[str, str]:
        delivery_log.redeliver(hub, actor, webhook_id, delivery_id)
        return "Delivery queued again", f"{WEBHOOKS}/{webhook_id}"

    return await _change(request, webhook_id, change)
