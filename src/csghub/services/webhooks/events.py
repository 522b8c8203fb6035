"""From a repository event to queued deliveries: the webhooks that watch the repository or its namespace,
are enabled, take the event's domain, and whose owner may read the repository now, each get a delivery
row in the same transaction as the change (it is queued if and only if the change commits).

Registered by wiring as a listener of `Hub.announce` (services/context.py), which the one write
pipeline (services/repositories/writes.after_ref_update), repository settings, renames, deletions and
discussions call."""

from __future__ import annotations

import json
import logging

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.db.models import Repo, Webhook, WebhookDelivery, WebhookWatch, utcnow
from csghub.services.context import Hub, RepoEvent
from csghub.services.identity.accounts import user_may_read
from csghub.services.repositories.repos import row_resource
from csghub.services.webhooks import payloads
from csghub.services.webhooks.hooks import watch_key

log = logging.getLogger(__name__)


def domain_of(scope: str) -> str:
    return "discussion" if scope.startswith("discussion") else "repo"


def _watchers(session: Session, keys: list[str]) -> list[Webhook]:
    watching = select(WebhookWatch.webhook_id).where(WebhookWatch.key.in_(keys))
    found = select(Webhook).where(Webhook.id.in_(watching), ~Webhook.disabled).order_by(Webhook.id)
    return list(session.scalars(found))


def on_repo_event(session: Session, hub: Hub, event: RepoEvent) -> None:
    """Queue a delivery of `event` to every webhook that should get it."""
    row = session.get(Repo, event.repo_id)
    if row is None:
        return
    namespace = row.namespace.name
    full_name = f"{namespace}/{row.name}"
    keys = [watch_key("user", namespace), watch_key(row.type, full_name)]
    moved_from = str(event.detail.get("from") or "")
    if moved_from:  # watchers of the old name and namespace hear of the move too
        keys += [watch_key("user", moved_from.split("/")[0]), watch_key(row.type, moved_from)]
    hooks = [h for h in _watchers(session, keys) if domain_of(event.scope) in json.loads(h.domains)]
    resource = row_resource(row, namespace)
    hooks = [h for h in hooks if user_may_read(session, h.owner_id, resource)]
    if not hooks:
        return
    parts = payloads.event_parts(session, hub, row, full_name, event)
    now = utcnow()
    for hook in hooks:
        session.add(
            WebhookDelivery(
                webhook_id=hook.id,
                repo_id=row.id,
                repo_namespace=namespace,
                repo_visibility=row.visibility,
                scope=event.scope,
                action=event.action,
                payload=payloads.encode(parts, hook.id, hub.settings.webhook_max_payload),
                next_attempt_at=now,
            )
        )
    # The delivery loop hears of them once they are committed, not at its next pass.
    sa_event.listen(session, "after_commit", lambda _session: hub.webhook_doorbell.ring(), once=True)
