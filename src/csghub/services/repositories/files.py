"""Reading a repository at a revision: tree listings, path info, commit history and file contents."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from csghub.core.errors import EntryNotFound
from csghub.core.names import normalize_folder, validate_path, validate_revision
from csghub.git.repository import CommitInfo, FilePatch, GitRepo, TreeEntry
from csghub.services.context import CommitCache, Hub
from csghub.services.permissions import Action, Actor, authorize, can
from csghub.services.repositories import lfs
from csghub.services.repositories.repos import RepoView


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A repository pinned to one commit."""

    repo: RepoView
    git: GitRepo
    sha: str
    # The hub's caches of what is derived from a commit (see all_files, folder_listing, get_entry)
    # and of small files' bytes (read_file).
    listings: CommitCache
    entries: CommitCache
    small_blobs: CommitCache


def _resolve(hub: Hub, git: GitRepo, revision: str) -> str:
    """`revision`'s commit, from hub.refs while the ref's files are unchanged (read_cache.RefCache)."""
    generation = hub.refs.generation  # read before the stamp: a write in between is not kept
    stamp = git.ref_stamp(revision)
    if stamp is None:
        return git.resolve(revision)
    path = str(git.path)
    sha = hub.refs.get(path, revision, stamp)
    if sha is None:
        sha = git.resolve(revision)
        hub.refs.put(path, revision, stamp, sha, generation)
    return sha


def at_revision(hub: Hub, actor: Actor, repo: RepoView, revision: str | None) -> Snapshot:
    authorize(actor, Action.READ, repo.resource)
    git = hub.git(repo.id)
    sha = _resolve(hub, git, validate_revision(revision or repo.default_branch))
    return Snapshot(repo, git, sha, hub.listings, hub.entries, hub.small_blobs)


def _files_at(path: Path, sha: str) -> tuple[TreeEntry, ...]:
    return tuple(e for e in GitRepo(path).list_tree(sha, recursive=True) if e.kind == "file")


def all_files(snapshot: Snapshot) -> tuple[TreeEntry, ...]:
    return snapshot.listings.get(_files_at, snapshot.git.path, snapshot.sha)


def list_tree(snapshot: Snapshot, folder: str = "", *, recursive: bool = False) -> Iterator[TreeEntry]:
    return snapshot.git.list_tree(snapshot.sha, normalize_folder(folder), recursive=recursive)


def _folder_at(path: Path, sha: str, folder: str) -> tuple[TreeEntry, ...]:
    entries = GitRepo(path).list_tree(sha, folder)
    return tuple(sorted(entries, key=lambda e: (e.kind != "directory", e.path)))


def folder_listing(snapshot: Snapshot, folder: str = "") -> tuple[TreeEntry, ...]:
    """A folder's entries, folders first, then by name; cached per commit like `all_files`."""
    return snapshot.listings.get(_folder_at, snapshot.git.path, snapshot.sha, normalize_folder(folder))


def paths_info(snapshot: Snapshot, paths: list[str]) -> list[TreeEntry]:
    """Entries for the given paths; paths that don't exist are left out, as clients expect."""
    out = []
    for path in paths:
        try:
            out.append(snapshot.git.entry(snapshot.sha, validate_path(path.strip("/"))))
        except EntryNotFound:
            continue
    return out


def _entry_at(path: Path, sha: str, file_path: str) -> TreeEntry:
    # Validated here, on a miss: a path kept in the cache passed, and one that fails raises, so it is never kept.
    return GitRepo(path).entry(sha, validate_path(file_path))


def get_entry(snapshot: Snapshot, path: str) -> TreeEntry:
    entry = snapshot.entries.get(_entry_at, snapshot.git.path, snapshot.sha, path)
    if entry.kind != "file":
        raise EntryNotFound(f"'{path}' is a folder, not a file")
    return entry


def read_small_file(snapshot: Snapshot, entry: TreeEntry) -> bytes:
    """The whole content of a file kept in git (callers bound its size: previews, the editor, the card)."""
    return snapshot.git.read_small_blob(entry.oid)


def history(snapshot: Snapshot, *, skip: int = 0, limit: int = 50) -> tuple[list[CommitInfo], int]:
    return snapshot.git.log(snapshot.sha, skip=skip, limit=limit)


@dataclass(frozen=True, slots=True)
class CommitDetail:
    """A commit and what it changed; `files` carry no lines for those who may not download contents."""

    info: CommitInfo
    files: tuple[FilePatch, ...]


def _diff_of(path: Path, sha: str) -> tuple[FilePatch, ...]:
    return GitRepo(path).diff_commit(sha)


def commit_detail(hub: Hub, actor: Actor, repo: RepoView, revision: str) -> CommitDetail:
    """A commit (by sha or ref) with per-file patches against its first parent.

    Reading the list of changed files needs READ; the changed lines are file contents, so a gated
    repository shows them only to those who may DOWNLOAD.
    """
    snapshot = at_revision(hub, actor, repo, revision)
    patches = hub.diffs.get(_diff_of, snapshot.git.path, snapshot.sha)
    if not can(actor, Action.DOWNLOAD, repo.resource):
        patches = tuple(FilePatch(p.path, p.old_path, p.status, p.additions, p.deletions, (), "gated") for p in patches)
    return CommitDetail(snapshot.git.commit(snapshot.sha), patches)


@dataclass(frozen=True, slots=True)
class FileContent:
    entry: TreeEntry
    size: int
    etag: str

    @property
    def is_lfs(self) -> bool:
        return self.entry.lfs is not None


def file_content(snapshot: Snapshot, path: str) -> FileContent:
    entry = get_entry(snapshot, path)
    if entry.lfs is not None:
        return FileContent(entry, entry.lfs.size, entry.lfs.oid)
    return FileContent(entry, entry.size, entry.oid)


# Files up to this size are kept in memory once read (hub.small_blobs: 256 of them, 16 MiB at most).
SMALL_BLOB = 64 * 1024


def _blob_of(path: Path, oid: str) -> bytes:
    return GitRepo(path).read_small_blob(oid)


def read_file(
    hub: Hub, snapshot: Snapshot, content: FileContent, start: int = 0, end: int | None = None
) -> Iterator[bytes]:
    """Stream [start, end) of a file: LFS objects from the blob store, the rest from git."""
    if content.entry.lfs is not None:
        return lfs.read_object(hub, content.entry.lfs.oid, start, end)
    if content.size <= SMALL_BLOB:
        data = snapshot.small_blobs.get(_blob_of, snapshot.git.path, content.entry.oid)[start:end]
        return iter([data])
    if content.size <= 4 * 1024 * 1024:
        data = snapshot.git.read_small_blob(content.entry.oid)[start:end]
        return iter([data])
    return snapshot.git.stream_blob(content.entry.oid, start, end)
