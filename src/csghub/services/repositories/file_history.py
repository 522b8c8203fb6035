"""History as the file pages show it: a revision's latest commit and commit count, the last commit of
each entry of a folder, and the paged history of one file or folder.

Everything here is derived from a commit id, so it is kept in the hub's per-commit cache
(hub.listings) and never goes stale: a new push makes a new commit id, hence new keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from csghub.core.errors import EntryNotFound
from csghub.core.names import normalize_folder, validate_path
from csghub.git import history as git_history
from csghub.git.history import LastCommits
from csghub.git.repository import CommitInfo, GitRepo
from csghub.services.context import Hub
from csghub.services.permissions import Actor
from csghub.services.repositories import files
from csghub.services.repositories.files import Snapshot
from csghub.services.repositories.repos import RepoView

# The last-commit walk of one folder reads at most this many commits, for at most this long; entries
# it does not reach are shown as "older" (their history page still has them). A big repository's tree
# page stays fast even on a cold cache.
WALK_COMMITS = 5000
WALK_SECONDS = 1.5
HISTORY_PAGE = 30


@dataclass(frozen=True, slots=True)
class Head:
    """A revision's newest commit and how many commits lead to it."""

    commit: CommitInfo
    count: int


def _head_at(path: Path, sha: str) -> Head:
    return Head(GitRepo(path).commit(sha), git_history.commit_count(path, sha))


def head(snapshot: Snapshot) -> Head:
    return snapshot.listings.get(_head_at, snapshot.git.path, snapshot.sha)


def _last_at(path: Path, sha: str, folder: str, names: frozenset[str], max_commits: int) -> LastCommits:
    return git_history.last_commits(path, sha, folder, set(names), max_commits=max_commits, max_seconds=WALK_SECONDS)


def last_commits(snapshot: Snapshot, folder: str = "", *, max_commits: int = WALK_COMMITS) -> LastCommits:
    """The newest commit that changed each entry of `folder` at the snapshot's commit."""
    folder = normalize_folder(folder)
    names = frozenset(e.path.rsplit("/", 1)[-1] for e in files.folder_listing(snapshot, folder))
    return snapshot.listings.get(_last_at, snapshot.git.path, snapshot.sha, folder, names, max_commits)


@dataclass(frozen=True, slots=True)
class PathHistory:
    path: str
    kind: str  # "file" | "directory"
    commits: tuple[CommitInfo, ...]
    page: int
    has_next: bool


def _path_log(path: Path, sha: str, file_path: str, follow: bool, page: int) -> tuple[CommitInfo, ...]:
    # One more than a page: whether a next page exists, without counting the whole history.
    skip = (page - 1) * HISTORY_PAGE
    log = git_history.path_log(path, sha, file_path, follow=follow, skip=skip, limit=HISTORY_PAGE + 1)
    return tuple(log)


def path_history(hub: Hub, actor: Actor, repo: RepoView, revision: str, path: str, page: int = 1) -> PathHistory:
    """The commits that changed `path` up to `revision`, newest first, a page at a time; a file's
    history follows it through renames. The path must exist at the revision (EntryNotFound)."""
    snapshot = files.at_revision(hub, actor, repo, revision)  # authorizes READ
    path = validate_path(path.strip("/"))
    try:
        kind = files.get_entry(snapshot, path).kind
    except EntryNotFound:
        files.folder_listing(snapshot, path)  # a folder, or EntryNotFound for a path that is neither
        kind = "directory"
    page = max(1, page)
    log = snapshot.listings.get(_path_log, snapshot.git.path, snapshot.sha, path, kind == "file", page)
    return PathHistory(path, kind, log[:HISTORY_PAGE], page, len(log) > HISTORY_PAGE)
