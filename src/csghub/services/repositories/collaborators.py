"""Per-repository collaborators: users given read, write or admin on one repository."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from csghub.core.errors import NotFound
from csghub.core.names import RepoId, RepoType
from csghub.db.models import Namespace, RepoCollaborator
from csghub.services import audit
from csghub.services.context import Hub
from csghub.services.identity.accounts import user_by_name
from csghub.services.permissions import Action, Actor, check_role
from csghub.services.repositories.repos import get_repo


@dataclass(frozen=True, slots=True)
class CollaboratorView:
    user: str
    role: str


def list_collaborators(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId) -> list[CollaboratorView]:
    view = get_repo(hub, actor, repo_type, repo_id, Action.ADMIN)
    with hub.db() as session:
        rows = session.execute(
            select(Namespace.name, RepoCollaborator.role)
            .join(RepoCollaborator, RepoCollaborator.user_id == Namespace.id)
            .where(RepoCollaborator.repo_id == view.id)
            .order_by(Namespace.name_key)
        ).all()
        return [CollaboratorView(n, r) for n, r in rows]


def set_collaborator(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, user_name: str, role: str) -> None:
    check_role(role)
    view = get_repo(hub, actor, repo_type, repo_id, Action.ADMIN)
    with hub.db() as session:
        user = user_by_name(session, user_name)
        row = session.get(RepoCollaborator, (view.id, user.id))
        if row is None:
            session.add(RepoCollaborator(repo_id=view.id, user_id=user.id, role=role))
        else:
            row.role = role
        audit.record(
            session,
            actor,
            "repo.collaborator",
            namespace=view.namespace,
            target=view.full_name,
            detail={"user": user_name, "role": role},
        )
    hub.actors.clear()


def remove_collaborator(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, user_name: str) -> None:
    view = get_repo(hub, actor, repo_type, repo_id, Action.ADMIN)
    with hub.db() as session:
        user = user_by_name(session, user_name)
        row = session.get(RepoCollaborator, (view.id, user.id))
        if row is None:
            raise NotFound(f"'{user_name}' is not a collaborator of {view.full_name}")
        session.delete(row)
        audit.record(
            session,
            actor,
            "repo.collaborator_remove",
            namespace=view.namespace,
            target=view.full_name,
            detail={"user": user_name},
        )
    hub.actors.clear()
