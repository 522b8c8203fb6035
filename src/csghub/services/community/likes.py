"""Likes: a signed-in user likes or unlikes a repository they may read; `repos.likes` follows the rows.

Owns the `repo_likes` table and keeps each repository's `likes` counter equal to its number of rows
(recounted in the same transaction, so concurrent likes never drift the counter).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from csghub.core.errors import NotFound
from csghub.core.names import RepoId, RepoType
from csghub.db.models import Namespace, Repo, RepoLike, User
from csghub.services import audit
from csghub.services.context import Hub
from csghub.services.permissions import Actor, require_account
from csghub.services.repositories.repos import RepoView, get_repo, get_repo_by_id, visible_clause


@dataclass(frozen=True, slots=True)
class LikedRepo:
    repo: RepoView
    liked_at: datetime


def _recount(session: Session, repo_id: int) -> int:
    count = select(func.count()).select_from(RepoLike).where(RepoLike.repo_id == repo_id).scalar_subquery()
    session.execute(update(Repo).where(Repo.id == repo_id).values(likes=count))
    return session.scalar(select(Repo.likes).where(Repo.id == repo_id)) or 0


def set_like(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, liked: bool) -> int:
    """Like (or unlike) a repository; idempotent. Returns its new number of likes."""
    # A like is part of one's own account, as a webhook is: the credential must be one that may change
    # it (services/webhooks/hooks.py), asked before the repository, so a token that may not like learns
    # nothing about which repositories exist.
    require_account(actor, "like repositories")
    view = get_repo(hub, actor, repo_type, repo_id)
    assert actor.user_id is not None
    with hub.db() as session:
        row = session.get(RepoLike, (actor.user_id, view.id))
        if liked and row is None:
            session.add(RepoLike(user_id=actor.user_id, repo_id=view.id))
        elif not liked and row is not None:
            session.execute(delete(RepoLike).where(RepoLike.user_id == actor.user_id, RepoLike.repo_id == view.id))
        else:
            return view.likes
        session.flush()
        count = _recount(session, view.id)
        audit.record(
            session,
            actor,
            "repo.like" if liked else "repo.unlike",
            namespace=view.namespace,
            target=f"{repo_type.value}:{view.full_name}",
        )
        return count


def has_liked(hub: Hub, actor: Actor, repo: RepoView) -> bool:
    if actor.user_id is None:
        return False
    with hub.db() as session:
        return session.get(RepoLike, (actor.user_id, repo.id)) is not None


def list_liked(hub: Hub, actor: Actor, user_name: str, *, limit: int = 1000, offset: int = 0) -> list[LikedRepo]:
    """What `user_name` liked, newest first, limited to the repositories `actor` may read."""
    stmt = (
        select(RepoLike.repo_id, RepoLike.created_at)
        .join(Repo, Repo.id == RepoLike.repo_id)
        .join(Namespace, Repo.namespace_id == Namespace.id)
        .where(RepoLike.user_id == _user_id(hub, user_name))
        .order_by(RepoLike.created_at.desc(), RepoLike.repo_id.desc())
        .offset(offset)
        .limit(max(1, min(limit, 1000)))
    )
    visible = visible_clause(actor)
    if visible is not None:
        stmt = stmt.where(visible)
    with hub.db() as session:
        rows = session.execute(stmt).all()
    return [LikedRepo(get_repo_by_id(hub, repo_id), created_at) for repo_id, created_at in rows]


def _user_id(hub: Hub, user_name: str) -> int:
    with hub.db() as session:
        found = session.scalar(
            select(User.id).join(Namespace, Namespace.id == User.id).where(Namespace.name_key == user_name.lower())
        )
    if found is None:
        raise NotFound(f"User '{user_name}' does not exist")
    return found
