"""Who may move a pull request's ref, `refs/pr/{number}`, and when.

A pull request's commits live at refs/pr/N, N being its discussion number. Only the hub creates such a
ref (when the pull request is opened: services/community/pulls.py); commits land on it while the pull
request is a draft or open, from its author or anyone who may write to the repository, by the commit
API or by a git push. No other refs/pr/* name is ever created, and none is deleted.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from csghub.core.errors import InvalidArgument, PermissionDenied
from csghub.db.models import Discussion
from csghub.git.repository import ZERO_SHA
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize, can
from csghub.services.repositories.repos import RepoView

PR_PREFIX = "refs/pr/"
_PR_REF = re.compile(r"refs/pr/([1-9][0-9]{0,8})")
OPEN_STATUSES = ("draft", "open")


def pr_number(ref: str) -> int | None:
    """N for `refs/pr/N`; None for any other ref."""
    found = _PR_REF.fullmatch(ref)
    return int(found.group(1)) if found else None


def pr_ref(number: int) -> str:
    return f"{PR_PREFIX}{number}"


def _pull(hub: Hub, repo_id: int, number: int) -> Discussion | None:
    with hub.db() as session:
        row = session.scalar(
            select(Discussion).where(
                Discussion.repo_id == repo_id, Discussion.number == number, Discussion.is_pull_request.is_(True)
            )
        )
        if row is not None:
            session.expunge(row)
        return row


def authorize_pr_commit(hub: Hub, actor: Actor, repo: RepoView, ref: str) -> None:
    """May `actor` add commits to the pull request at `ref`? Writers may; so may its author, with a
    credential that may write (Action.PROPOSE). Missing or finished pull requests take no commits."""
    number = pr_number(ref)
    row = _pull(hub, repo.id, number) if number is not None else None
    if row is None:
        authorize(actor, Action.READ, repo.resource)
        raise InvalidArgument(
            f"'{ref}' is not a pull request of {repo.full_name}: open one with create_pr=True "
            "(refs/pr/* are created by the hub, never by a push or a commit)"
        )
    if row.status not in OPEN_STATUSES:
        authorize(actor, Action.READ, repo.resource)
        raise InvalidArgument(f"Pull request #{row.number} is {row.status}: it takes no more commits")
    if can(actor, Action.WRITE, repo.resource):
        return
    if actor.user_id is not None and actor.user_id == row.author_id:
        authorize(actor, Action.PROPOSE, repo.resource)
        return
    authorize(actor, Action.READ, repo.resource)
    raise PermissionDenied(
        f"Only the author of pull request #{row.number} or a writer of {repo.full_name} may commit to it"
    )


def check_pr_push(hub: Hub, repo: RepoView, ref: str, old: str, new: str) -> None:
    """A push that touches refs/pr/*: only an existing, open pull request's ref moves (the pusher
    already passed the push's own authorization, which needs write access)."""
    if old == ZERO_SHA:
        raise PermissionDenied(f"'{ref}' cannot be created by a push: open a pull request (create_pr=True) instead")
    if new == ZERO_SHA:
        raise PermissionDenied(f"'{ref}' cannot be deleted: close the pull request instead")
    number = pr_number(ref)
    row = _pull(hub, repo.id, number) if number is not None else None
    if row is None:
        raise PermissionDenied(f"'{ref}' is not a pull request of {repo.full_name}")
    if row.status not in OPEN_STATUSES:
        raise InvalidArgument(f"Pull request #{row.number} is {row.status}: it takes no more commits")
