"""Pull requests as Hugging Face defines them: a discussion whose commits live at `refs/pr/{number}`.

Owns the pull-request columns of `discussions` and the refs/pr/* refs (who may move one afterwards:
services/repositories/pull_refs.py). A pull request is opened empty as a draft (its ref at the target
branch's head) or with a first commit (create_pr=True on a commit); its first commit makes a draft
open. Writers merge it into its target branch (a fast-forward when possible, else a merge commit, never
over conflicts) through the same write step as any push; its author or a writer closes and reopens it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from csghub.core.errors import Conflict, InvalidArgument, NotFound, RevisionNotFound
from csghub.core.names import RepoId, RepoType
from csghub.db.models import Discussion, DiscussionComment, utcnow
from csghub.git import merges
from csghub.git.repository import ZERO_SHA, CommitInfo, FilePatch, GitRepo
from csghub.services import audit
from csghub.services.community.discussions import DiscussionView, EventView, checked_title, get_discussion
from csghub.services.context import Hub, RepoEvent
from csghub.services.permissions import Action, Actor, authorize, can
from csghub.services.repositories import commits, pull_refs
from csghub.services.repositories.repos import RepoView, get_repo
from csghub.services.repositories.writes import RefChange, after_ref_update, writing

MAX_COMMITS = 250  # listed per pull request; older ones are counted, not shown


@dataclass(frozen=True, slots=True)
class PullDetails:
    discussion: DiscussionView  # events include the pull request's commits, in time order
    head: str  # refs/pr/N's commit
    base: str  # where the pull request's own commits start (the merge base with the target)
    diff: str
    diff_cut: bool
    conflicts: tuple[str, ...]
    commits: tuple[CommitInfo, ...]  # newest first
    can_merge: bool = False  # whether the viewer may merge it (a writer), were it open and clean


def _new_pull(
    hub: Hub, actor: Actor, repo: RepoView, title: str, status: str, base_oid: str, body: str, target: str
) -> int:
    """Insert the pull request's row (numbered with the discussions) and its opening comment."""
    title = checked_title(title, "pull request")
    for _attempt in range(5):
        try:
            with hub.db() as session:
                last = session.scalar(select(func.max(Discussion.number)).where(Discussion.repo_id == repo.id))
                row = Discussion(
                    repo_id=repo.id,
                    number=(last or 0) + 1,
                    title=title,
                    author_id=actor.user_id,
                    status=status,
                    is_pull_request=True,
                    target_branch=target,
                    base_oid=base_oid,
                )
                session.add(row)
                session.flush()
                if body.strip():
                    session.add(DiscussionComment(discussion_id=row.id, author_id=actor.user_id, body=body.strip()))
                return row.number
        except IntegrityError:
            continue  # another request took the same number at the same moment; take the next
    raise Conflict("Too many discussions opened at once; try again")


def _announce_opened(hub: Hub, actor: Actor, repo: RepoView, number: int, title: str) -> None:
    with hub.db() as session:
        target = f"{repo.type.value}:{repo.full_name}#{number}"
        audit.record(session, actor, "pull.create", namespace=repo.namespace, target=target, detail={"title": title})
        session.flush()
        hub.announce(session, RepoEvent(repo.id, "discussion", "create", {"number": number, "pull_request": True}))


def _forget(hub: Hub, repo: RepoView, number: int) -> None:
    """Undo a pull request whose first commit failed: no number is shown that has nothing behind it."""
    with hub.db() as session:
        row = session.scalar(select(Discussion).where(Discussion.repo_id == repo.id, Discussion.number == number))
        if row is not None:
            session.delete(row)


def open_pull(
    hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, title: str, description: str, *, via: str
) -> DiscussionView:
    """An empty pull request (a draft) against the default branch; commits then go to refs/pr/N."""
    repo = get_repo(hub, actor, repo_type, repo_id)
    authorize(actor, Action.PROPOSE, repo.resource)
    git = hub.git(repo.id)
    head = git.ref_target(f"refs/heads/{repo.default_branch}")
    if head is None:
        raise InvalidArgument(f"{repo.full_name} has no commit on {repo.default_branch} to propose changes to")
    number = _new_pull(hub, actor, repo, title, "draft", head, description, repo.default_branch)
    ref = pull_refs.pr_ref(number)
    try:
        with writing(hub, repo.id):
            git.update_ref(ref, head, None)
            change = RefChange(ref, ZERO_SHA, head)
            after_ref_update(hub, repo.id, actor, [change], action="repo.pr_create", via=via, detail={"pr": number})
    except BaseException:
        _forget(hub, repo, number)
        raise
    _announce_opened(hub, actor, repo, number, title)
    return get_discussion(hub, actor, repo_type, repo_id, number)


def commit_as_pull(
    hub: Hub,
    actor: Actor,
    repo: RepoView,
    revision: str,
    operations: list[commits.Operation],
    *,
    summary: str,
    description: str,
    parent_commit: str | None,
    via: str,
) -> tuple[commits.CommitResult, int]:
    """create_commit(create_pr=True): a new pull request against `revision` (a branch, usually the default
    one) holding this commit, made from `parent_commit` when given, else from the branch's head. Returns
    the commit and the pull request's number."""
    authorize(actor, Action.PROPOSE, repo.resource)
    if not summary.strip():
        raise InvalidArgument("A commit needs a non-empty summary")
    git = hub.git(repo.id)
    target = revision.removeprefix("refs/heads/") or repo.default_branch
    if pull_refs.pr_number(target) is not None or target.startswith("refs/"):
        raise InvalidArgument(f"A pull request targets a branch, not '{target}'")
    start = git.resolve(parent_commit) if parent_commit else git.ref_target(f"refs/heads/{target}")
    if start is None and not git.is_empty():
        raise RevisionNotFound(f"Invalid rev id: {target}")
    number = _new_pull(hub, actor, repo, summary, "open", start or "", description or summary, target)
    try:
        result = commits.create_commit(
            hub,
            actor,
            repo,
            pull_refs.pr_ref(number),
            operations,
            summary=summary,
            description=description,
            create_branch_from=start or repo.default_branch,
            via=via,
        )
    except BaseException:
        _forget(hub, repo, number)
        raise
    _announce_opened(hub, actor, repo, number, summary)
    return result, number


def _diff_of(path: Path, base: str | None, head: str) -> tuple[str, bool]:
    return merges.unified_diff(GitRepo(path), base, head)


def _conflicts_of(path: Path, target: str, head: str) -> tuple[str, ...]:
    return merges.try_merge(GitRepo(path), target, head).conflicts


def _patches_of(path: Path, base: str | None, head: str) -> tuple[FilePatch, ...]:
    return GitRepo(path).diff_between(base, head)


def _commit_events(pr_commits: tuple[CommitInfo, ...]) -> list[EventView]:
    oldest_first = reversed(pr_commits)  # sorting by time keeps this order within one second
    return [
        EventView(0, "commit", c.author_name, c.title, c.date.replace(tzinfo=None), None, oid=c.sha)
        for c in oldest_first
    ]


_RANK = {"comment": 0, "commit": 1}


def _event_order(event: EventView) -> tuple[object, int]:
    # Commit times have whole seconds: within one second, comments (the opening one) come first,
    # then commits, then status and title changes (a merge).
    return event.created_at.replace(microsecond=0), _RANK.get(event.kind, 2)


def _span(hub: Hub, view: DiscussionView, base_oid: str) -> tuple[GitRepo, str, str]:
    """refs/pr/N's head and where its own commits start: the merge base with the target while it is open,
    with the target as it was when it was opened once it is merged or closed (the target may contain it)."""
    git = hub.git(view.repo.id)
    head = git.ref_target(pull_refs.pr_ref(view.number))
    if head is None:
        raise NotFound(f"Pull request #{view.number} has lost its ref")
    target = git.ref_target(f"refs/heads/{view.target_branch}") if view.status in pull_refs.OPEN_STATUSES else None
    start = target or base_oid or head
    base = head if start == head else (merges.merge_base(git, start, head) or "")
    return git, head, base


def get_pull(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, number: int) -> PullDetails:
    """The pull request with its diff against the target, its commits and the files that would conflict."""
    view = get_discussion(hub, actor, repo_type, repo_id, number)
    if not view.is_pull_request:
        raise NotFound(f"#{number} of {view.repo.full_name} is a discussion, not a pull request")
    with hub.db() as session:
        base_oid = session.scalar(
            select(Discussion.base_oid).where(Discussion.repo_id == view.repo.id, Discussion.number == number)
        )
    git, head, base = _span(hub, view, base_oid or "")
    if can(actor, Action.DOWNLOAD, view.repo.resource):
        diff, cut = hub.diffs.get(_diff_of, git.path, base or None, head)
    else:  # the changed lines are file contents: a gated repository shows them to those who may download
        diff, cut = "", False
    listed = merges.commits_between(git, base or None, head, MAX_COMMITS)
    conflicts: tuple[str, ...] = ()
    target = git.ref_target(f"refs/heads/{view.target_branch}")
    if view.status in pull_refs.OPEN_STATUSES and target is not None:
        conflicts = hub.diffs.get(_conflicts_of, git.path, target, head)
    events = sorted([*view.events, *_commit_events(listed)], key=_event_order)
    may_merge = can(actor, Action.WRITE, view.repo.resource)
    return PullDetails(replace(view, events=tuple(events)), head, base, diff, cut, conflicts, listed, may_merge)


def get_details(
    hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, number: int
) -> DiscussionView | PullDetails:
    """A discussion, or a pull request with its diff, commits and conflicts (HF's one details route)."""
    view = get_discussion(hub, actor, repo_type, repo_id, number)
    return get_pull(hub, actor, repo_type, repo_id, number) if view.is_pull_request else view


def changed_files(hub: Hub, actor: Actor, details: PullDetails) -> tuple[FilePatch, ...]:
    """The pull request's changes file by file (the portal's "Files changed"), cached by commit; without
    their lines for those who may not download the repository's files (gated)."""
    patches = hub.diffs.get(_patches_of, hub.git(details.discussion.repo.id).path, details.base or None, details.head)
    if not can(actor, Action.DOWNLOAD, details.discussion.repo.resource):
        return tuple(FilePatch(p.path, p.old_path, p.status, p.additions, p.deletions, (), "gated") for p in patches)
    return patches


def merge_pull(
    hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, number: int, *, comment: str = "", via: str
) -> EventView:
    """Move the target branch to include the pull request: a fast-forward when the target has not moved,
    else a merge commit; refused with the conflicting files named. Returns the "merged" status change."""
    repo = get_repo(hub, actor, repo_type, repo_id)
    authorize(actor, Action.WRITE, repo.resource)
    view = get_discussion(hub, actor, repo_type, repo_id, number)
    if not view.is_pull_request:
        raise InvalidArgument(f"#{number} is a discussion, not a pull request: there is nothing to merge")
    if view.status != "open":
        raise InvalidArgument(f"Pull request #{number} is {view.status}: only an open pull request is merged")
    git = hub.git(repo.id)
    target_ref = f"refs/heads/{view.target_branch}"
    with writing(hub, repo.id), git.quarantined() as staged:
        head = git.ref_target(pull_refs.pr_ref(number))
        target = git.ref_target(target_ref)
        if head is None or target is None:
            raise NotFound(f"Pull request #{number} or its target branch '{view.target_branch}' is gone")
        if _status(hub, repo, number) != "open":  # closed or merged by someone else meanwhile
            raise InvalidArgument(f"Pull request #{number} is no longer open")
        if git.is_ancestor(head, target):
            raise InvalidArgument(f"Pull request #{number} has no change that {view.target_branch} lacks")
        new = head if git.is_ancestor(target, head) else _merge_commit(staged, repo, view, actor, target, head)
        staged.admit_objects(new)
        for check in hub.write_checks:  # upload scanning's blocking mode, when set; the ref has not moved
            check(hub, repo.id, [new], list(set(git.all_ref_targets().values())), None)
        git.update_ref(target_ref, new, target)
        change = RefChange(target_ref, target, new)
        after_ref_update(hub, repo.id, actor, [change], action="repo.pr_merge", via=via, detail={"pr": number})
        return _record_merge(hub, actor, repo, number, new, comment)


def _status(hub: Hub, repo: RepoView, number: int) -> str | None:
    with hub.db() as session:
        return session.scalar(
            select(Discussion.status).where(Discussion.repo_id == repo.id, Discussion.number == number)
        )


def _merge_commit(staged: GitRepo, repo: RepoView, view: DiscussionView, actor: Actor, target: str, head: str) -> str:
    message = f"Merge pull request #{view.number}: {view.title}"
    made = merges.write_merge_commit(
        staged, target, head, message=message, author_name=actor.name, author_email=f"{actor.name}@users.noreply.csghub"
    )
    if isinstance(made, merges.MergeOutcome):
        files = ", ".join(made.conflicts[:20]) + (" ..." if len(made.conflicts) > 20 else "")
        raise Conflict(
            f"Pull request #{view.number} cannot be merged: these files conflict with {view.target_branch}: "
            f"{files}. Update the pull request (merge {view.target_branch} into refs/pr/{view.number}) and retry.",
            code="MergeConflict",
        )
    return made


def _record_merge(hub: Hub, actor: Actor, repo: RepoView, number: int, new: str, comment: str) -> EventView:
    with hub.db() as session:
        row = session.scalar(select(Discussion).where(Discussion.repo_id == repo.id, Discussion.number == number))
        assert row is not None  # read under the same write lock a moment ago; rows are never deleted meanwhile
        if comment.strip():
            session.add(DiscussionComment(discussion_id=row.id, author_id=actor.user_id, body=comment.strip()))
        event = DiscussionComment(discussion_id=row.id, author_id=actor.user_id, kind="status-change", body="merged")
        session.add(event)
        row.status, row.merge_commit_oid, row.updated_at = "merged", new, utcnow()
        target = f"{repo.type.value}:{repo.full_name}#{number}"
        audit.record(session, actor, "pull.merge", namespace=repo.namespace, target=target, detail={"commit": new})
        session.flush()
        hub.announce(session, RepoEvent(repo.id, "discussion", "update", {"number": number, "merged": new}))
        return EventView(event.id, "status-change", actor.name, "merged", event.created_at, None)


def on_ref_update(hub: Hub, repo_id: int, refs: list[str]) -> None:
    """writes.after_ref_update's listener: a draft whose ref moved past where it started is open."""
    numbers = [n for n in (pull_refs.pr_number(ref) for ref in refs) if n is not None]
    if not numbers:
        return
    git = hub.git(repo_id)
    with hub.db() as session:
        drafts = session.scalars(
            select(Discussion).where(
                Discussion.repo_id == repo_id, Discussion.number.in_(numbers), Discussion.status == "draft"
            )
        ).all()
        for row in drafts:
            if git.ref_target(pull_refs.pr_ref(row.number)) not in (None, row.base_oid):
                row.status, row.updated_at = "open", utcnow()
