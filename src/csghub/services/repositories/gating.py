"""Gated repositories: listed and described publicly, files only for users whose access request an
owner accepted ("manual") or that were accepted on arrival ("auto")."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from csghub.core.errors import InvalidArgument, NotFound
from csghub.core.names import RepoId, RepoType
from csghub.db.models import GateRequest, Namespace, User, utcnow
from csghub.services import audit
from csghub.services.context import Hub, PersonEvent
from csghub.services.identity.accounts import user_by_name
from csghub.services.permissions import Action, Actor, require_account
from csghub.services.repositories.repos import RepoView, get_repo

STATUSES = ("pending", "accepted", "rejected")


@dataclass(frozen=True, slots=True)
class AccessRequestView:
    user: str
    full_name: str
    email: str
    status: str
    fields: dict[str, Any]
    created_at: datetime


def request_access(
    hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, fields: dict[str, Any] | None = None
) -> str:
    """Ask for a gated repository's files; returns the request's status."""
    require_account(actor, "request access")
    view = get_repo(hub, actor, repo_type, repo_id, Action.READ)
    if not view.gated:
        raise InvalidArgument(f"{view.full_name} is not gated: its files are open to everyone who can see it")
    status = "accepted" if view.gated == "auto" else "pending"
    with hub.db() as session:
        row = session.get(GateRequest, (view.id, actor.user_id))
        if row is None:
            session.add(
                GateRequest(repo_id=view.id, user_id=actor.user_id, status=status, fields=json.dumps(fields or {}))
            )
            if status == "pending":  # its owners have something to decide
                hub.tell(session, PersonEvent("access_request", actor.user_id, repo_id=view.id))
        elif row.status != "accepted":
            # A rejected user may not ask again and again; only an owner changes a rejection.
            status = row.status
        else:
            status = "accepted"
        audit.record(session, actor, "repo.access_request", namespace=view.namespace, target=view.full_name)
    hub.actors.clear()
    return status


def find_request_status(hub: Hub, actor: Actor, repo: RepoView) -> str | None:
    """The actor's own access request to a gated repository: pending, accepted, rejected; None if none."""
    if actor.is_anonymous or not repo.gated:
        return None
    with hub.db() as session:
        row = session.get(GateRequest, (repo.id, actor.user_id))
        return None if row is None else row.status


def list_requests(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, status: str) -> list[AccessRequestView]:
    if status not in STATUSES:
        raise InvalidArgument(f"Invalid status '{status}': expected pending, accepted or rejected")
    view = get_repo(hub, actor, repo_type, repo_id, Action.ADMIN)
    with hub.db() as session:
        rows = session.execute(
            select(GateRequest, Namespace.name, Namespace.full_name, User.email)
            .join(Namespace, Namespace.id == GateRequest.user_id)
            .join(User, User.id == GateRequest.user_id)
            .where(GateRequest.repo_id == view.id, GateRequest.status == status)
            .order_by(GateRequest.created_at)
        ).all()
        return [
            AccessRequestView(name, full or name, email, req.status, json.loads(req.fields or "{}"), req.created_at)
            for req, name, full, email in rows
        ]


def decide(
    hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, user_name: str, status: str, *, grant: bool = False
) -> None:
    """Accept, reject or reset (pending) a request; `grant` also creates one that was never made."""
    if status not in STATUSES:
        raise InvalidArgument(f"Invalid status '{status}': expected pending, accepted or rejected")
    view = get_repo(hub, actor, repo_type, repo_id, Action.ADMIN)
    with hub.db() as session:
        user = user_by_name(session, user_name)
        row = session.get(GateRequest, (view.id, user.id))
        if row is None:
            if not grant:
                raise NotFound(f"'{user_name}' has not requested access to {view.full_name}")
            row = GateRequest(repo_id=view.id, user_id=user.id, status=status)
            session.add(row)
        row.status = status
        row.decided_at = utcnow()
        audit.record(
            session,
            actor,
            "repo.access_decision",
            namespace=view.namespace,
            target=view.full_name,
            detail={"user": user_name, "status": status},
        )
    hub.actors.clear()
