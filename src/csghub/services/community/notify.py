"""Who hears about what: the listeners (registered by wiring) that turn repository and people's events into
notifications, in the transaction of what caused them.

- A new discussion, a comment, a status change: the repository's owners (the user, or the organization's
  admins and writers) and everyone who took part in the discussion (its author, its commenters).
- An @mention in a discussion's opening text or a comment: the named accounts that exist (a "mention",
  in place of the plain notice for the same event).
- A pending access request to a gated repository: its admins (the owner, the organization's admins).
- An invitation into an organization: the invitee.

Never the actor themselves, and never someone who may not read the repository now (checked here for
each recipient, and again when the notifications are read)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.db.models import Discussion, DiscussionComment, Namespace, OrgMember, Repo, User
from csghub.services.community import mentions, notifications
from csghub.services.context import Hub, PersonEvent, RepoEvent
from csghub.services.identity.accounts import user_may_read
from csghub.services.repositories.repos import row_resource


def _owners(session: Session, row: Repo, roles: tuple[str, ...]) -> set[int]:
    """The accounts that own the repository: its user, or its organization's members with `roles`."""
    if row.namespace.kind == "user":
        return {row.namespace_id}
    members = select(OrgMember.user_id).where(OrgMember.org_id == row.namespace_id, OrgMember.role.in_(roles))
    return set(session.scalars(members))


def _may_read(session: Session, user_ids: set[int], row: Repo) -> set[int]:
    resource = row_resource(row, row.namespace.name)
    return {user_id for user_id in user_ids if user_may_read(session, user_id, resource)}


def _mentioned(session: Session, text: str) -> set[int]:
    names = mentions.parse_mentions(text)
    if not names:
        return set()
    found = select(User.id).join(Namespace, Namespace.id == User.id).where(Namespace.name_key.in_(names))
    return set(session.scalars(found))


def on_repo_event(session: Session, hub: Hub, event: RepoEvent) -> None:
    """A discussion opened, commented on, closed or reopened: its owners, participants and mentions hear."""
    if event.action not in ("create", "update") or event.scope not in ("discussion", "discussion.comment"):
        return
    if event.scope == "discussion.comment" and event.action == "update":
        return  # an edited comment tells nobody again
    row = session.get(Repo, event.repo_id)
    number = event.detail.get("number")
    if row is None or not isinstance(number, int):
        return
    found = session.scalar(select(Discussion).where(Discussion.repo_id == row.id, Discussion.number == number))
    if found is None:
        return
    comment = _causing_comment(session, found, event)
    if comment is None:
        return
    kind = {"discussion": "discussion", "discussion.comment": "comment"}[event.scope]
    if event.action == "update":
        kind = "status"
    mentioned = _mentioned(session, comment.body) if comment.kind == "comment" else set()
    participants: set[int] = {
        author
        for author in session.scalars(
            select(DiscussionComment.author_id).where(
                DiscussionComment.discussion_id == found.id, DiscussionComment.author_id.is_not(None)
            )
        )
        if author is not None
    }
    everyone = _owners(session, row, ("admin", "write")) | participants | mentioned
    readers = _may_read(session, everyone, row)
    excerpt = comment.body  # a status change's body is the new status
    for recipients, what in ((readers & mentioned, "mention"), (readers - mentioned, kind)):
        notifications.add(
            session,
            recipients,
            what,
            actor_id=comment.author_id,
            repo_id=row.id,
            number=number,
            title=found.title,
            excerpt=excerpt,
        )


def _causing_comment(session: Session, found: Discussion, event: RepoEvent) -> DiscussionComment | None:
    """The comment (or status change) the event is about: its author is the actor."""
    if event.scope == "discussion.comment":
        comment_id = event.detail.get("comment")
        comment = session.get(DiscussionComment, comment_id) if isinstance(comment_id, int) else None
        return comment if comment is not None and comment.discussion_id == found.id else None
    # A new discussion: its first comment; a status change: the newest status-change event.
    kinds = ("comment",) if event.action == "create" else ("status-change",)
    order = DiscussionComment.id.asc() if event.action == "create" else DiscussionComment.id.desc()
    return session.scalar(
        select(DiscussionComment)
        .where(DiscussionComment.discussion_id == found.id, DiscussionComment.kind.in_(kinds))
        .order_by(order)
        .limit(1)
    )


def on_person_event(session: Session, hub: Hub, event: PersonEvent) -> None:
    """An access request reaches the repository's admins; an invitation, its invitee."""
    if event.kind == "access_request" and event.repo_id is not None:
        row = session.get(Repo, event.repo_id)
        if row is None:
            return
        admins = _may_read(session, _owners(session, row, ("admin",)), row)
        notifications.add(session, admins, "access_request", actor_id=event.actor_id, repo_id=row.id)
    elif event.kind == "invitation" and event.user_id is not None and event.org_id is not None:
        notifications.add(session, {event.user_id}, "invitation", actor_id=event.actor_id, org_id=event.org_id)
