"""A webhook's delivery log as its owner reads it, and manual redelivery.

Only the webhook's owner reads its log, and only the deliveries about repositories they may still read:
a repository made private since, or one whose organization they left, vanishes from their log as it
would from everything else (its payloads say what it holds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from csghub.core.errors import NotFound
from csghub.db.models import Repo, WebhookDelivery, utcnow
from csghub.services.context import Hub
from csghub.services.identity.accounts import user_may_read
from csghub.services.permissions import Actor, RepoResource
from csghub.services.repositories.repos import row_resource
from csghub.services.webhooks import hooks


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    webhook_id: int
    scope: str
    action: str
    state: str
    attempts: int
    payload: str
    request_headers: dict[str, str]
    response_status: int | None
    response_excerpt: str
    duration_ms: int | None
    error: str
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    redelivery_of: int | None


def view_of(row: WebhookDelivery) -> DeliveryView:
    return DeliveryView(
        id=row.id,
        webhook_id=row.webhook_id,
        scope=row.scope,
        action=row.action,
        state=row.state,
        attempts=row.attempts,
        payload=row.payload,
        request_headers=json.loads(row.request_headers or "{}"),
        response_status=row.response_status,
        response_excerpt=row.response_excerpt,
        duration_ms=row.duration_ms,
        error=row.error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        next_attempt_at=row.next_attempt_at,
        redelivery_of=row.redelivery_of,
    )


def list_deliveries(hub: Hub, actor: Actor, webhook_id: int, *, limit: int = 50) -> list[DeliveryView]:
    """A webhook's deliveries, newest first: only those about repositories its owner may still read."""
    hooks.get_webhook(hub, actor, webhook_id)  # the owner's, or NotFound
    with hub.db() as session:
        rows = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(max(1, min(limit, 200)))
        ).all()
        readable: dict[int, bool] = {}
        shown: list[DeliveryView] = []
        for row in rows:
            if row.repo_id not in readable:
                repo = session.get(Repo, row.repo_id)
                resource = (
                    row_resource(repo, repo.namespace.name)
                    if repo is not None
                    else RepoResource(row.repo_id, row.repo_namespace, row.repo_visibility, "repository")
                )
                readable[row.repo_id] = user_may_read(session, actor.user_id or 0, resource)
            if readable[row.repo_id]:
                shown.append(view_of(row))
        return shown


def redeliver(hub: Hub, actor: Actor, webhook_id: int, delivery_id: int) -> DeliveryView:
    """Queue a past delivery's payload again, as a new delivery (the log keeps both)."""
    shown = {d.id: d for d in list_deliveries(hub, actor, webhook_id, limit=200)}
    past = shown.get(delivery_id)
    if past is None or not past.payload:
        raise NotFound(f"Delivery {delivery_id} of webhook {webhook_id} not found")
    with hub.db() as session:
        original = session.get(WebhookDelivery, delivery_id)
        if original is None:
            raise NotFound(f"Delivery {delivery_id} of webhook {webhook_id} not found")
        row = WebhookDelivery(
            webhook_id=webhook_id,
            repo_id=original.repo_id,
            repo_namespace=original.repo_namespace,
            repo_visibility=original.repo_visibility,
            scope=original.scope,
            action=original.action,
            payload=original.payload,
            next_attempt_at=utcnow(),
            redelivery_of=original.id,
        )
        session.add(row)
        session.flush()
        view = view_of(row)
    hub.webhook_doorbell.ring()
    return view
