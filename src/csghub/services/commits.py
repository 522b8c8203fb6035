"""Commits made through the API: inline files, LFS references and deletions, applied atomically.

A commit is built off the branch head in memory and published with a compare-and-swap of the ref, so a
stale parentCommit is a Conflict and nothing is half-applied. Inline files that are large or that
.gitattributes routes to LFS are stored as LFS objects, exactly as a git-lfs client would have done.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from csghub.core.errors import Conflict, EntryNotFound, InvalidArgument, RevisionNotFound
from csghub.core.names import validate_path, validate_ref_name
from csghub.git.lfs import LfsPointer, LfsRules, format_pointer
from csghub.git.repository import FileChange, GitRepo
from csghub.services import lfs as lfs_service
from csghub.services import xet_cas
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize
from csghub.services.repos import RepoView, refresh_metadata
from csghub.services.writes import writing
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


def _branch_name(revision: str) -> str:
    return validate_ref_name(revision.removeprefix("refs/heads/"), what="branch")


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
) -> CommitResult:
    authorize(actor, Action.WRITE, repo.resource)
    branch = _branch_name(revision)
    if not summary.strip():
        raise InvalidArgument("A commit needs a non-empty summary")
    if not operations:
        raise InvalidArgument("A commit needs at least one operation")
    paths = [validate_path(op.path) for op in operations]
    if len(set(paths)) != len(paths):
        raise InvalidArgument("A commit may name each path only once")
    git = hub.git(repo.id)
    with writing(hub, repo.id):
        head = git.ref_target(f"refs/heads/{branch}")
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
        changes, pointers = _materialize(hub, repo.id, git, head, operations)
        message = summary.strip() + (f"\n\n{description.strip()}" if description.strip() else "")
        sha = git.create_commit(
            parent=head,
            changes=changes,
            deleted_folders=[op.path for op in operations if isinstance(op, DeletedFolder)],
            message=message,
            author_name=actor.name,
            author_email=f"{actor.name}@users.noreply.csghub",
        )
        # Linked before the ref moves, as for a push: a crash right after the move then leaves
        # only the metadata behind, which the next start (or failed write) reconciles from the refs.
        lfs_service.link_objects(hub, repo.id, pointers)
        git.update_ref(f"refs/heads/{branch}", sha, expected_old)
        if branch == repo.default_branch:
            refresh_metadata(hub, repo.id)
    _maintain_soon(git)
    return CommitResult(sha=sha, branch=branch)


def _materialize(
    hub: Hub, repo_id: int, git: GitRepo, head: str | None, operations: list[Operation]
) -> tuple[list[FileChange], list[LfsPointer]]:
    rules = lfs_rules_at(git, head)
    changes: list[FileChange] = []
    pointers: list[LfsPointer] = []
    lfs_refs = [LfsPointer(op.oid, op.size) for op in operations if isinstance(op, LfsFile)]
    # Files uploaded through Xet are named by sha256 only; their bytes are checked before they count.
    xet_cas.adopt_files(hub, repo_id, lfs_refs)
    missing = lfs_service.missing_objects(hub, lfs_refs)
    if missing:
        names = ", ".join(f"{p.oid} ({p.size} bytes)" for p in missing[:5])
        raise InvalidArgument(f"LFS objects were not uploaded before the commit: {names}")
    for op in operations:
        if isinstance(op, InlineFile):
            if op.size > 0 and (op.size >= hub.settings.lfs_threshold or rules.matches(op.path)):
                if hub.blobs.stat(op.sha256) != op.size:
                    with open(op.tmp_path, "rb") as fh:
                        hub.blobs.put(op.sha256, op.size, iter_file(fh))
                pointer = LfsPointer(op.sha256, op.size)
                pointers.append(pointer)
                changes.append(FileChange(op.path, git.write_blob(format_pointer(op.sha256, op.size))))
            else:
                changes.append(FileChange(op.path, git.write_blob_from_path(op.tmp_path)))
        elif isinstance(op, LfsFile):
            pointers.append(LfsPointer(op.oid, op.size))
            changes.append(FileChange(op.path, git.write_blob(format_pointer(op.oid, op.size))))
        elif isinstance(op, DeletedFile):
            changes.append(FileChange(op.path, None))
    return changes, pointers


class _Maintenance:
    """At most one maintenance run per repository at a time; writes during a run schedule one more."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._state: dict[str, bool] = {}  # repo path -> another run requested

    def request(self, git: GitRepo) -> None:
        key = str(git.path)
        with self._guard:
            if key in self._state:
                self._state[key] = True
                return
            self._state[key] = False
        threading.Thread(target=self._run, args=(git, key), name="git-maintenance", daemon=True).start()

    def _run(self, git: GitRepo, key: str) -> None:
        while True:
            try:
                git.maintain()
            except Exception:  # a background process boundary: log, never crash the server
                log.exception("repository maintenance failed for %s", git.path)
            with self._guard:
                if not self._state.get(key):
                    del self._state[key]
                    return
                self._state[key] = False


MAINTENANCE = _Maintenance()


def _maintain_soon(git: GitRepo) -> None:
    """Pack loose objects off the request path."""
    MAINTENANCE.request(git)
