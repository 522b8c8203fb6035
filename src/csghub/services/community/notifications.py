"""Notifications: what each person should hear about, stored per recipient, read, marked read.

Owns the `notifications` table. Rows are written by services/community/notify.py inside the transaction
of what caused them; this module adds them (never for the actor themselves, at most MAX_KEPT per
recipient, the oldest dropped), and reads them back through the reader's own rights: a notification about
a repository the reader can no longer read is neither listed nor counted, as if it did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from csghub.core.errors import InvalidArgument, NotFound
from csghub.core.names import RepoType
from csghub.db.models import Namespace, Notification, Repo, utcnow
from csghub.services.context import Hub
from csghub.services.permissions import Actor, account_allows, require_account
from csghub.services.repositories.repos import visible_clause

KINDS = ("discussion", "comment", "status", "mention", "access_request", "invitation")
# Per recipient: past this, the oldest go (read or not); an inbox is a feed, not an archive.
MAX_KEPT = 500
PAGE = 30


@dataclass(frozen=True, slots=True)
class NotificationView:
    id: int
    kind: str
    actor: str  # "" once the account is gone
    repo_type: RepoType | None
    repo: str  # "namespace/name", or "" when about no repository
    number: int | None
    org: str
    title: str
    excerpt: str
    created_at: datetime
    read: bool


@dataclass(frozen=True, slots=True)
class NotificationPage:
    items: list[NotificationView]
    total: int  # matching the filter
    unread: int


def add(
    session: Session,
    recipient_ids: set[int],
    kind: str,
    *,
    actor_id: int | None,
    repo_id: int | None = None,
    number: int | None = None,
    org_id: int | None = None,
    title: str = "",
    excerpt: str = "",
) -> int:
    """One notification per recipient, the actor left out; returns how many were written."""
    targets = sorted(r for r in recipient_ids if r != actor_id)
    for recipient in targets:
        session.add(
            Notification(
                recipient_id=recipient,
                kind=kind,
                actor_id=actor_id,
                repo_id=repo_id,
                number=number,
                org_id=org_id,
                title=title[:200],
                excerpt=" ".join(excerpt.split())[:300],
            )
        )
    if targets:
        session.flush()
        for recipient in targets:
            _trim(session, recipient)
    return len(targets)


def _trim(session: Session, recipient: int) -> None:
    # The id of the oldest one kept; everything older goes (one indexed query while under the bound).
    oldest_kept = session.scalar(
        select(Notification.id)
        .where(Notification.recipient_id == recipient)
        .order_by(Notification.id.desc())
        .offset(MAX_KEPT - 1)
        .limit(1)
    )
    if oldest_kept is not None:
        session.execute(
            delete(Notification).where(Notification.recipient_id == recipient, Notification.id < oldest_kept)
        )


def _readable(actor: Actor) -> ColumnElement[bool] | None:
    """Rows about no repository, or about one `actor` may read now (the listing's own rule)."""
    visible = visible_clause(actor)
    return None if visible is None else or_(Notification.repo_id.is_(None), visible)


def _mine(actor: Actor) -> Select[Any]:
    require_account(actor, "read notifications")
    stmt = (
        select(Notification.id)
        .outerjoin(Repo, Repo.id == Notification.repo_id)
        .outerjoin(Namespace, Namespace.id == Repo.namespace_id)
        .where(Notification.recipient_id == actor.user_id)
    )
    readable = _readable(actor)
    return stmt if readable is None else stmt.where(readable)


def count_unread(hub: Hub, actor: Actor) -> int:
    """The header's number: one indexed count (the recipient's unread rows, joined to their repositories)."""
    if actor.is_anonymous:
        return 0
    stmt = _mine(actor).where(Notification.read_at.is_(None))
    with hub.db() as session:
        return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def cached_unread(hub: Hub, actor: Actor) -> int:
    """count_unread for every page's header: 0 where the credential may not read notifications (a read
    or fine-grained token shows the page, without the count), else kept a few seconds per person. The
    key holds the read caches' generation, which every committed write moves (a new notification, one
    marked read, a right lost: a removed collaborator, a repository made private), so no count outlives
    the write that changed it."""
    if not account_allows(actor):
        return 0
    key = f"{actor.user_id}:{hub.reads.generation}"
    return hub.unread_counts.load(key, lambda: count_unread(hub, actor))


def list_notifications(
    hub: Hub, actor: Actor, *, unread_only: bool = False, limit: int = PAGE, offset: int = 0
) -> NotificationPage:
    """The actor's notifications, newest first; `unread_only` keeps the unread ones."""
    ids = _mine(actor)
    unread_ids = ids.where(Notification.read_at.is_(None))
    chosen = unread_ids if unread_only else ids
    by = aliased(Namespace)
    owner = aliased(Namespace)
    org = aliased(Namespace)
    stmt = (
        select(Notification, by.name, Repo.type, owner.name, Repo.name, org.name)
        .outerjoin(by, by.id == Notification.actor_id)
        .outerjoin(Repo, Repo.id == Notification.repo_id)
        .outerjoin(owner, owner.id == Repo.namespace_id)
        .outerjoin(org, org.id == Notification.org_id)
        .where(Notification.id.in_(chosen))
        .order_by(Notification.id.desc())
        .offset(max(0, offset))
        .limit(max(1, min(limit, 100)))
    )
    with hub.db() as session:
        total = session.scalar(select(func.count()).select_from(chosen.subquery())) or 0
        unread = total if unread_only else session.scalar(select(func.count()).select_from(unread_ids.subquery()))
        items = [
            NotificationView(
                id=row.id,
                kind=row.kind,
                actor=actor_name or "",
                repo_type=RepoType(repo_type) if repo_type else None,
                repo=f"{ns}/{name}" if ns and name else "",
                number=row.number,
                org=org_name or "",
                title=row.title,
                excerpt=row.excerpt,
                created_at=row.created_at,
                read=row.read_at is not None,
            )
            for row, actor_name, repo_type, ns, name, org_name in session.execute(stmt).all()
        ]
    return NotificationPage(items, total, unread or 0)


def mark_read(hub: Hub, actor: Actor, notification_id: int, *, read: bool = True) -> None:
    """Mark one of the actor's notifications read (or unread again); someone else's is NotFound."""
    with hub.db() as session:
        found = session.scalar(_mine(actor).where(Notification.id == notification_id))
        if found is None:
            raise NotFound(f"Notification {notification_id} does not exist")
        session.execute(update(Notification).where(Notification.id == found).values(read_at=utcnow() if read else None))


def mark_all_read(hub: Hub, actor: Actor) -> int:
    """Mark every unread notification of the actor read; returns how many were."""
    require_account(actor, "read notifications")
    with hub.db() as session:
        result = session.execute(
            update(Notification)
            .where(Notification.recipient_id == actor.user_id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
        return int(getattr(result, "rowcount", 0) or 0)


def check_filter(value: str) -> bool:
    """`?filter=` of the page and the API: "unread" or "all" (or nothing)."""
    if value not in ("", "all", "unread"):
        raise InvalidArgument(f"Invalid filter '{value}': expected all or unread")
    return value == "unread"
