"""Discussions: conversations on a repository, numbered per repository, with markdown comments.

Owns the `discussions` and `discussion_comments` tables. Whoever may read a repository and is signed
in may open a discussion and comment; its author or anyone who may write to the repository closes and
reopens it. The opening text is the first comment, as on the Hugging Face Hub; status changes are kept
as events next to the comments so the history reads in order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from csghub.core.names import RepoId, RepoType
from csghub.db.models import Discussion, DiscussionComment, Namespace, utcnow
from csghub.services import audit
from csghub.services.context import Hub, RepoEvent
from csghub.services.permissions import Action, Actor, authorize, can, require_account
from csghub.services.repositories.repos import RepoView, get_repo

STATUSES = ("open", "closed")
# A pull request is also "draft" (opened empty) or "merged"; filters count a draft as open, merged as closed.
_FILTER = {"open": ("open", "draft"), "closed": ("closed", "merged")}
KINDS = ("discussion", "pull_request")
MAX_TITLE = 200
MAX_BODY = 65536


@dataclass(frozen=True, slots=True)
class EventView:
    id: int
    kind: str  # "comment" | "status-change" | "title-change" | "commit" (pull requests)
    author: str  # "" once the account is gone
    body: str  # a comment's text, the new status, the new title, a commit's subject
    created_at: datetime
    edited_at: datetime | None
    old_title: str = ""  # title-change
    oid: str = ""  # commit


@dataclass(frozen=True, slots=True)
class DiscussionView:
    repo: RepoView
    number: int
    title: str
    status: str
    author: str
    created_at: datetime
    updated_at: datetime
    comments: int
    events: tuple[EventView, ...] = ()
    # Whether the viewer may close or reopen it.
    can_moderate: bool = False
    is_pull_request: bool = False
    target_branch: str = ""  # pull requests: the branch it merges into
    merge_commit_oid: str = ""  # pull requests, once merged


@dataclass(frozen=True, slots=True)
class DiscussionPage:
    items: list[DiscussionView]
    total: int  # matching the filter
    open: int
    closed: int


def _check_body(body: str, what: str = "comment") -> str:
    if not body.strip():
        raise InvalidArgument(f"The {what} is empty")
    if len(body) > MAX_BODY:
        raise InvalidArgument(f"The {what} is longer than {MAX_BODY} characters")
    return body


def _author_names(session: Session, ids: set[int | None]) -> dict[int | None, str]:
    wanted = [i for i in ids if i is not None]
    rows = session.execute(select(Namespace.id, Namespace.name).where(Namespace.id.in_(wanted))).all() if wanted else []
    return dict(rows)


def _may_moderate(actor: Actor, repo: RepoView, row: Discussion) -> bool:
    # The author's own discussion, or anyone with write access to the repository.
    mine = actor.user_id is not None and actor.user_id == row.author_id and actor.scope == "write"
    return mine or can(actor, Action.WRITE, repo.resource)


def _row(session: Session, repo: RepoView, number: int) -> Discussion:
    row = session.scalar(select(Discussion).where(Discussion.repo_id == repo.id, Discussion.number == number))
    if row is None:
        raise NotFound(f"Discussion #{number} does not exist in {repo.full_name}")
    return row


def _counts(session: Session, discussion_ids: list[int]) -> dict[int, int]:
    if not discussion_ids:
        return {}
    stmt = (
        select(DiscussionComment.discussion_id, func.count())
        .where(DiscussionComment.discussion_id.in_(discussion_ids), DiscussionComment.kind == "comment")
        .group_by(DiscussionComment.discussion_id)
    )
    return {d: n for d, n in session.execute(stmt).all()}


def _view(
    actor: Actor,
    repo: RepoView,
    row: Discussion,
    names: dict[int | None, str],
    comments: int,
    events: tuple[EventView, ...] = (),
) -> DiscussionView:
    return DiscussionView(
        repo=repo,
        number=row.number,
        title=row.title,
        status=row.status,
        author=names.get(row.author_id, ""),
        created_at=row.created_at,
        updated_at=row.updated_at,
        comments=comments,
        events=events,
        can_moderate=_may_moderate(actor, repo, row),
        is_pull_request=row.is_pull_request,
        target_branch=row.target_branch,
        merge_commit_oid=row.merge_commit_oid,
    )


def checked_title(title: str, kind: str) -> str:
    """A discussion's or pull request's title, stripped, of 1 to MAX_TITLE characters."""
    title = title.strip()
    if not title or len(title) > MAX_TITLE:
        raise InvalidArgument(f"A {kind} title must have 1 to {MAX_TITLE} characters")
    return title


def open_discussion(
    hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, title: str, description: str
) -> DiscussionView:
    repo = get_repo(hub, actor, repo_type, repo_id)
    require_account(actor, "open discussions")
    title = checked_title(title, "discussion")
    _check_body(description, "description")
    for _attempt in range(5):
        try:
            with hub.db() as session:
                last = session.scalar(select(func.max(Discussion.number)).where(Discussion.repo_id == repo.id))
                row = Discussion(repo_id=repo.id, number=(last or 0) + 1, title=title, author_id=actor.user_id)
                session.add(row)
                session.flush()
                session.add(DiscussionComment(discussion_id=row.id, author_id=actor.user_id, body=description))
                audit.record(
                    session,
                    actor,
                    "discussion.create",
                    namespace=repo.namespace,
                    target=f"{repo_type.value}:{repo.full_name}#{row.number}",
                    detail={"title": title},
                )
                session.flush()
                hub.announce(session, RepoEvent(repo.id, "discussion", "create", {"number": row.number}))
                return _view(actor, repo, row, {actor.user_id: actor.name}, 1)
        except IntegrityError:
            continue  # another request took the same number at the same moment; take the next
    raise Conflict("Too many discussions opened at once; try again")


def get_discussion(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, number: int) -> DiscussionView:
    """The discussion with its comments and status changes, oldest first."""
    repo = get_repo(hub, actor, repo_type, repo_id)
    with hub.db() as session:
        row = _row(session, repo, number)
        rows = session.scalars(
            select(DiscussionComment)
            .where(DiscussionComment.discussion_id == row.id)
            .order_by(DiscussionComment.created_at, DiscussionComment.id)
        ).all()
        names = _author_names(session, {row.author_id, *(c.author_id for c in rows)})
        events = tuple(_event(c, names) for c in rows)
        return _view(actor, repo, row, names, sum(1 for e in events if e.kind == "comment"), events)


def _event(c: DiscussionComment, names: dict[int | None, str]) -> EventView:
    author = names.get(c.author_id, "")
    if c.kind == "title-change":
        change = json.loads(c.body)
        return EventView(c.id, c.kind, author, change["to"], c.created_at, None, old_title=change["from"])
    return EventView(c.id, c.kind, author, c.body, c.created_at, c.edited_at)


def list_discussions(
    hub: Hub,
    actor: Actor,
    repo_type: RepoType,
    repo_id: RepoId,
    *,
    status: str = "",
    author: str = "",
    kind: str = "",
    limit: int = 50,
    offset: int = 0,
) -> DiscussionPage:
    """Newest first; `status` "open"/"closed", `author` and `kind` ("discussion", "pull_request") narrow
    the list."""
    repo = get_repo(hub, actor, repo_type, repo_id)
    if status and status not in STATUSES:
        raise InvalidArgument(f"Invalid status '{status}': expected open or closed")
    if kind and kind not in KINDS:
        raise InvalidArgument(f"Invalid type '{kind}': expected discussion or pull_request")
    with hub.db() as session:
        base = select(Discussion).where(Discussion.repo_id == repo.id)
        if kind:
            base = base.where(Discussion.is_pull_request.is_(kind == "pull_request"))
        if author:
            by_author = Namespace.name_key == author.lower()
            base = base.join(Namespace, Namespace.id == Discussion.author_id).where(by_author)
        matching = base.subquery()
        by_status: dict[str, int] = dict(
            session.execute(select(matching.c.status, func.count()).group_by(matching.c.status)).all()
        )
        stmt = base.where(Discussion.status.in_(_FILTER[status])) if status else base
        rows = session.scalars(
            stmt.order_by(Discussion.number.desc()).offset(offset).limit(max(1, min(limit, 100)))
        ).all()
        names = _author_names(session, {r.author_id for r in rows})
        counts = _counts(session, [r.id for r in rows])
        items = [_view(actor, repo, r, names, counts.get(r.id, 0)) for r in rows]
    opened = sum(by_status.get(s, 0) for s in _FILTER["open"])
    closed = sum(by_status.get(s, 0) for s in _FILTER["closed"])
    by_status = {"open": opened, "closed": closed}
    return DiscussionPage(items, by_status.get(status, 0) if status else opened + closed, opened, closed)


def add_comment(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, number: int, body: str) -> EventView:
    repo = get_repo(hub, actor, repo_type, repo_id)
    require_account(actor, "comment")
    _check_body(body)
    with hub.db() as session:
        row = _row(session, repo, number)
        comment = DiscussionComment(discussion_id=row.id, author_id=actor.user_id, body=body)
        session.add(comment)
        row.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "discussion.comment",
            namespace=repo.namespace,
            target=f"{repo_type.value}:{repo.full_name}#{number}",
        )
        session.flush()
        detail = {"number": number, "comment": comment.id}
        hub.announce(session, RepoEvent(repo.id, "discussion.comment", "create", detail))
        return EventView(comment.id, "comment", actor.name, body, comment.created_at, None)


def set_status(
    hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, number: int, status: str, *, comment: str = ""
) -> EventView:
    """Close or reopen; an optional comment goes in first. Returns the status-change event."""
    repo = get_repo(hub, actor, repo_type, repo_id)
    require_account(actor, "change a discussion's status")
    if status not in STATUSES:
        raise InvalidArgument(f"Invalid status '{status}': expected open or closed")
    if comment.strip():
        _check_body(comment)
    with hub.db() as session:
        row = _row(session, repo, number)
        if not _may_moderate(actor, repo, row):
            # Reuse authorize() for the message: it names what is missing (write access, a write token).
            authorize(actor, Action.WRITE, repo.resource)
        if row.status == status:
            raise InvalidArgument(f"Discussion #{number} is already {status}")
        if row.status == "merged":
            raise InvalidArgument(f"Pull request #{number} is merged: its status no longer changes")
        if comment.strip():
            session.add(DiscussionComment(discussion_id=row.id, author_id=actor.user_id, body=comment.strip()))
        event = DiscussionComment(discussion_id=row.id, author_id=actor.user_id, kind="status-change", body=status)
        session.add(event)
        row.status = status
        row.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "discussion.status",
            namespace=repo.namespace,
            target=f"{repo_type.value}:{repo.full_name}#{number}",
            detail={"status": status},
        )
        session.flush()
        hub.announce(session, RepoEvent(repo.id, "discussion", "update", {"number": number}))
        return EventView(event.id, "status-change", actor.name, status, event.created_at, None)


def edit_comment(
    hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, number: int, comment_id: int, body: str
) -> EventView:
    """Only a comment's author changes it; the comment keeps when it was written and says when it was edited."""
    repo = get_repo(hub, actor, repo_type, repo_id)
    require_account(actor, "edit a comment")
    _check_body(body)
    with hub.db() as session:
        row = _row(session, repo, number)
        comment = session.get(DiscussionComment, comment_id)
        if comment is None or comment.discussion_id != row.id or comment.kind != "comment":
            raise NotFound(f"Comment {comment_id} does not exist in discussion #{number}")
        if comment.author_id != actor.user_id:
            raise PermissionDenied("Only its author can edit a comment")
        comment.body = body
        comment.edited_at = utcnow()
        audit.record(
            session,
            actor,
            "discussion.comment_edit",
            namespace=repo.namespace,
            target=f"{repo_type.value}:{repo.full_name}#{number}",
        )
        session.flush()
        detail = {"number": number, "comment": comment.id}
        hub.announce(session, RepoEvent(repo.id, "discussion.comment", "update", detail))
        return EventView(comment.id, "comment", actor.name, body, comment.created_at, comment.edited_at)


def rename_discussion(
    hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, number: int, title: str
) -> EventView:
    """A new title, by whoever may close the discussion; the change is kept as a "title-change" event."""
    repo = get_repo(hub, actor, repo_type, repo_id)
    require_account(actor, "rename a discussion")
    title = checked_title(title, "discussion")
    with hub.db() as session:
        row = _row(session, repo, number)
        if not _may_moderate(actor, repo, row):
            authorize(actor, Action.WRITE, repo.resource)
        old = row.title
        change = json.dumps({"from": old, "to": title})
        event = DiscussionComment(discussion_id=row.id, author_id=actor.user_id, kind="title-change", body=change)
        session.add(event)
        row.title = title
        row.updated_at = utcnow()
        target = f"{repo_type.value}:{repo.full_name}#{number}"
        detail = {"from": old, "to": title}
        audit.record(session, actor, "discussion.rename", namespace=repo.namespace, target=target, detail=detail)
        session.flush()
        hub.announce(session, RepoEvent(repo.id, "discussion", "update", {"number": number}))
        return EventView(event.id, "title-change", actor.name, title, event.created_at, None, old_title=old)
