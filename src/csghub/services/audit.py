"""The audit log: who did what, when and from where, for administrators and organization admins.

Events are written in the same transaction as the change they describe, so the log never claims a
change that was rolled back; failed sign-ins are written on their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.db.models import AuditEvent
from csghub.services.context import Hub
from csghub.services.permissions import SITE, Action, Actor, NamespaceResource, authorize


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    created_at: datetime
    actor: str
    action: str
    namespace: str
    target: str
    detail: dict[str, Any]
    remote_addr: str


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    *,
    namespace: str = "",
    target: str = "",
    detail: dict[str, Any] | None = None,
    actor_name: str = "",
    address: str = "",
) -> None:
    session.add(
        AuditEvent(
            actor_id=actor.user_id if actor else None,
            actor_name=(actor.name if actor else "") or actor_name,
            action=action,
            namespace=namespace.lower(),
            target=target[:300],
            detail=json.dumps(detail or {}),
            remote_addr=((actor.address if actor else "") or address)[:64],
        )
    )


def record_now(hub: Hub, actor: Actor | None, action: str, **fields: Any) -> None:
    """An event with no other change to go with it (a failed sign-in)."""
    with hub.db() as session:
        record(session, actor, action, **fields)


def list_actions(hub: Hub, actor: Actor) -> list[str]:
    """The kinds of event the log holds, for a filter (site administrators)."""
    authorize(actor, Action.MANAGE, SITE)
    with hub.db() as session:
        return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def list_events(
    hub: Hub,
    actor: Actor,
    *,
    namespace: str = "",
    action: str = "",
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first. Site admins read everything; organization admins read their organization's events."""
    if namespace:
        authorize(actor, Action.MANAGE, NamespaceResource(namespace))
    else:
        authorize(actor, Action.MANAGE, SITE)
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(max(1, min(limit, 1000)))
    if namespace:
        stmt = stmt.where(AuditEvent.namespace == namespace.lower())
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    with hub.db() as session:
        return [
            AuditEntry(
                e.id, e.created_at, e.actor_name, e.action, e.namespace, e.target, json.loads(e.detail), e.remote_addr
            )
            for e in session.scalars(stmt)
        ]
