"""Commits made through the API: inline files, LFS references and deletions, applied atomically.

A commit is built off the branch head in memory and published with a compare-and-swap of the ref, so a
stale parentCommit is a Conflict and nothing is half-applied. Inline files that are large or that
.gitattributes routes to LFS are stored as LFS objects, exactly as a git-lfs client would have done.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from csghub.core.errors import Conflict, EntryNotFound, InvalidArgument, RevisionNotFound
from csghub.core.names import check_user_ref, validate_path, validate_ref_name
from csghub.git.lfs import POINTER_MAX_SIZE, LfsPointer, LfsRules, format_pointer, parse_pointer
from csghub.git.repository import ZERO_SHA, FileChange, GitRepo
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize
from csghub.services.repositories import lfs as lfs_service
from csghub.services.repositories import proofs, pull_refs
from csghub.services.repositories.repos import RepoView
from csghub.services.repositories.writes import RefChange, after_ref_update, writing
from csghub.storage.base import iter_file

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InlineFile:
    """Content the client sent in the request, already streamed to a temp file and hashed."""

    path: str
    tmp_path: Path
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class LfsFile:
    path: str
    oid: str
    size: int


@dataclass(frozen=True, slots=True)
class DeletedFile:
    path: str


@dataclass(frozen=True, slots=True)
class DeletedFolder:
    path: str


Operation = InlineFile | LfsFile | DeletedFile | DeletedFolder


@dataclass(frozen=True, slots=True)
class CommitResult:
    sha: str
    branch: str
    pull_request: int | None = None  # the pull request it opened (services/community/pulls.py)


def _target_ref(revision: str) -> str:
    """The full ref a commit moves: a branch, or a pull request's refs/pr/N."""
    if pull_refs.pr_number(revision) is not None:
        return revision
    return "refs/heads/" + validate_ref_name(check_user_ref(revision).removeprefix("refs/heads/"), what="branch")


def content_operation(hub: Hub, path: str, data: bytes, spooled: list[Path]) -> Operation:
    """A file's whole content sent in a request: a pointer the client already uploaded through LFS stays
    an LFS file; anything else is spooled to a temp file (appended to `spooled` for the caller to remove)."""
    pointer = parse_pointer(data)
    if pointer is not None:
        return LfsFile(path, pointer.oid, pointer.size)
    fd, name = tempfile.mkstemp(dir=hub.settings.tmp_dir, prefix="csg-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    spooled.append(Path(name))
    return InlineFile(path, Path(name), len(data), hashlib.sha256(data).hexdigest())


def lfs_rules_at(git: GitRepo, head: str | None) -> LfsRules:
    if head is None:
        return LfsRules("")
    try:
        entry = git.entry(head, ".gitattributes")
    except EntryNotFound:
        return LfsRules("")
    if entry.kind != "file" or entry.size > 1024 * 1024:
        return LfsRules("")
    return LfsRules(git.read_small_blob(entry.oid).decode("utf-8", errors="replace"))


def create_commit(
    hub: Hub,
    actor: Actor,
    repo: RepoView,
    revision: str,
    operations: list[Operation],
    *,
    summary: str,
    description: str = "",
    parent_commit: str | None = None,
    create_branch_from: str | None = None,
    via: str,
) -> CommitResult:
    """Commit `operations` on `revision`; `via` names the door it came through (services/repositories/writes.py).

    `revision` may be a pull request's refs/pr/N, which its author may commit to without write access."""
    ref = _target_ref(revision)
    if ref.startswith(pull_refs.PR_PREFIX):
        pull_refs.authorize_pr_commit(hub, actor, repo, ref)
    else:
        authorize(actor, Action.WRITE, repo.resource)
    branch = ref.removeprefix("refs/heads/")
    if not summary.strip():
        raise InvalidArgument("A commit needs a non-empty summary")
    if not operations:
        raise InvalidArgument("A commit needs at least one operation")
    paths = [validate_path(op.path, new=not isinstance(op, DeletedFile | DeletedFolder)) for op in operations]
    if len(set(paths)) != len(paths):
        raise InvalidArgument("A commit may name each path only once")
    git = hub.git(repo.id)
    # New objects wait in a quarantine until git's fsck accepts them, as a push's do.
    with writing(hub, repo.id), git.quarantined() as staged:
        head = git.ref_target(ref)
        if head is None:
            if create_branch_from is None:
                raise RevisionNotFound(f"Invalid rev id: {branch}")
            head = git.resolve(create_branch_from) if not git.is_empty() else None
            expected_old: str | None = None
        else:
            expected_old = head
        if parent_commit and parent_commit != head:
            raise Conflict(
                f"A commit has happened since {parent_commit[:12]}: {branch} is now at {(head or '')[:12]}. "
                "Pull the latest changes and retry."
            )
        changes, pointers = _materialize(hub, actor, repo.id, staged, head, operations)
        message = summary.strip() + (f"\n\n{description.strip()}" if description.strip() else "")
        sha = staged.create_commit(
            parent=head,
            changes=changes,
            deleted_folders=[op.path for op in operations if isinstance(op, DeletedFolder)],
            message=message,
            author_name=actor.name,
            author_email=f"{actor.name}@users.noreply.csghub",
        )
        staged.admit_objects(sha)
        for check in hub.write_checks:  # upload scanning's blocking mode, when set; the ref has not moved
            check(hub, repo.id, [sha], list(set(git.all_ref_targets().values())), None)
        # Linked before the ref moves, as for a push: a crash right after the move then leaves
        # only the metadata behind, which the next start (or failed write) reconciles from the refs.
        lfs_service.link_objects(hub, repo.id, pointers)
        git.update_ref(ref, sha, expected_old)
        change = RefChange(ref, expected_old or ZERO_SHA, sha)
        after_ref_update(hub, repo.id, actor, [change], action="repo.commit", via=via, detail={"summary": summary})
    return CommitResult(sha=sha, branch=branch)


def _inline_pointer(op: InlineFile) -> LfsPointer | None:
    """An inline file whose text is an LFS pointer: git and every reader will take it for one."""
    if op.size > POINTER_MAX_SIZE:
        return None
    with open(op.tmp_path, "rb") as fh:
        return parse_pointer(fh.read(POINTER_MAX_SIZE + 1))


def _claims(operations: list[Operation], to_lfs: Callable[[InlineFile], bool]) -> list[proofs.Claim]:
    """Every object the commit names without sending its bytes: LFS lines, and inline files that stay
    ordinary git blobs but whose text is a pointer (those routed to LFS are stored as they are)."""
    claims = [proofs.Claim(op.path, LfsPointer(op.oid, op.size)) for op in operations if isinstance(op, LfsFile)]
    for op in operations:
        if isinstance(op, InlineFile) and not to_lfs(op) and (pointer := _inline_pointer(op)) is not None:
            claims.append(proofs.Claim(op.path, pointer))
    return claims


def _materialize(
    hub: Hub, actor: Actor, repo_id: int, git: GitRepo, head: str | None, operations: list[Operation]
) -> tuple[list[FileChange], list[LfsPointer]]:
    rules = lfs_rules_at(git, head)

    def to_lfs(op: InlineFile) -> bool:
        return op.size > 0 and (op.size >= hub.settings.lfs_threshold or rules.matches(op.path))

    changes: list[FileChange] = []
    claims = _claims(operations, to_lfs)
    proofs.require(hub, actor, repo_id, claims)
    pointers: list[LfsPointer] = [claim.pointer for claim in claims]
    for op in operations:
        if isinstance(op, InlineFile):
            if to_lfs(op):
                # The bytes came with this request and were hashed on arrival: they are the proof.
                if hub.blobs.stat(op.sha256) != op.size:
                    with open(op.tmp_path, "rb") as fh:
                        hub.blobs.put(op.sha256, op.size, iter_file(fh))
                pointer = LfsPointer(op.sha256, op.size)
                pointers.append(pointer)
                changes.append(FileChange(op.path, git.write_blob(format_pointer(op.sha256, op.size))))
            else:
                changes.append(FileChange(op.path, git.write_blob_from_path(op.tmp_path)))
        elif isinstance(op, LfsFile):
            changes.append(FileChange(op.path, git.write_blob(format_pointer(op.oid, op.size))))
        elif isinstance(op, DeletedFile):
            changes.append(FileChange(op.path, None))
    return changes, pointers
