"""A bare git repository: create, read (pygit2, in-process) and write commits and refs.

Writes build trees in an in-memory index and move refs with `git update-ref NEW OLD`, a compare-and-swap,
so a concurrent push or commit is detected instead of silently overwritten. New objects wait in a
quarantine until git's own fsck accepts them (git/quarantine.py), as pushed ones do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pygit2

from csghub.core.errors import Conflict, EntryNotFound, GitError, InvalidArgument, RevisionNotFound
from csghub.core.names import is_commit_sha
from csghub.git.lfs import POINTER_MAX_SIZE, LfsPointer, parse_pointer
from csghub.git.quarantine import FsckRefused, ObjectQuarantine
from csghub.git.runner import git_env, run_git

ZERO_SHA = "0" * 40
_HOOKS = ("pre-receive",)
_HOOK_SCRIPT = """#!/bin/sh
# Installed by csghub: the hub checks every push it serves (who may move which ref, LFS pointers, scans).
[ -n "$CSGHUB_HOOK_PYTHON" ] || exit 0
exec "$CSGHUB_HOOK_PYTHON" -m csghub hook {name}
"""


def write_hooks(folder: Path) -> None:
    """The hub's hooks in `folder`: any that is missing, changed or not executable is replaced whole
    (written beside, then renamed), so what runs is always the hub's own."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in _HOOKS:
        hook, script = folder / name, _HOOK_SCRIPT.format(name=name)
        try:
            if hook.read_text() == script and os.access(hook, os.X_OK):
                continue
        except OSError:
            pass
        fd, fresh = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
        with os.fdopen(fd, "w") as out:
            out.write(script)
        os.chmod(fresh, 0o755)
        os.replace(fresh, hook)


# Kept in every repository's config: packed objects and bitmaps keep clones fast.
_REPO_CONFIG = {
    "core.logAllRefUpdates": "false",
    # Pushed objects pass git's fsck, as API commits do (the hub's own git runs also force it: runner.py).
    "receive.fsckObjects": "true",
    "receive.unpackLimit": "1",
    "receive.advertisePushOptions": "true",
    "receive.denyNonFastForwards": "false",
    "uploadpack.allowFilter": "true",
    "uploadpack.allowAnySHA1InWant": "true",
    "repack.writeBitmaps": "true",
    "pack.writeBitmapHashCache": "true",
    "gc.auto": "256",
    "gc.autoPackLimit": "20",
    "gc.autoDetach": "false",
}


@dataclass(frozen=True, slots=True)
class TreeEntry:
    path: str
    kind: str  # "file" | "directory"
    oid: str
    size: int
    lfs: LfsPointer | None = None


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    title: str
    message: str
    author_name: str
    author_email: str
    date: datetime
    parents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: str  # "hunk" | "add" | "del" | "context"
    old_no: int | None
    new_no: int | None
    text: str


@dataclass(frozen=True, slots=True)
class FilePatch:
    """One file of a commit's diff; `skipped` says why `lines` is empty: binary, lfs, large or limit."""

    path: str
    old_path: str
    status: str  # "added" | "deleted" | "modified" | "renamed" | "changed"
    additions: int
    deletions: int
    lines: tuple[DiffLine, ...]
    skipped: str = ""


@dataclass(frozen=True, slots=True)
class DiffLimits:
    file_bytes: int = 512 * 1024  # either side of a file larger than this is not diffed
    lines: int = 20_000  # lines shown in all, across files
    files: int = 300  # files diffed; the rest are listed without lines


_STATUS = {"A": "added", "D": "deleted", "M": "modified", "R": "renamed"}
_LINE_KINDS = {"+": "add", "-": "del", " ": "context"}


@dataclass(frozen=True, slots=True)
class FileChange:
    """One path of a commit: a blob to write (by oid), or None to delete."""

    path: str
    blob_oid: str | None


def _commit_info(commit: pygit2.Commit) -> CommitInfo:
    message = commit.message
    return CommitInfo(
        sha=str(commit.id),
        title=message.split("\n", 1)[0],
        message=message,
        author_name=commit.author.name,
        author_email=commit.author.email,
        date=datetime.fromtimestamp(commit.commit_time, UTC),
        parents=tuple(str(p) for p in commit.parent_ids),
    )


def _patch_lines(patch: pygit2.Patch) -> tuple[DiffLine, ...]:
    lines: list[DiffLine] = []
    for hunk in patch.hunks:
        lines.append(DiffLine("hunk", None, None, hunk.header.rstrip("\n")))
        for line in hunk.lines:
            kind = _LINE_KINDS.get(line.origin)
            if kind is None:  # "\ No newline at end of file" markers
                continue
            text = line.raw_content.decode("utf-8", errors="replace").rstrip("\n")
            old = line.old_lineno if line.old_lineno > 0 else None
            new = line.new_lineno if line.new_lineno > 0 else None
            lines.append(DiffLine(kind, old, new, text))
    return tuple(lines)


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._repo: pygit2.Repository | None = None
        self._quarantine: ObjectQuarantine | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    @classmethod
    def init_bare(cls, path: Path, default_branch: str = "main") -> GitRepo:
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path)],
            check=True,
            capture_output=True,
            env=git_env(),
        )
        repo = cls(path)
        for key, value in _REPO_CONFIG.items():
            run_git(path, "config", key, value)
        repo.install_hooks()
        return repo

    def install_hooks(self) -> None:
        hooks = self.path / "hooks"
        hooks.mkdir(exist_ok=True)
        for sample in hooks.glob("*.sample"):
            sample.unlink()
        write_hooks(hooks)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    @property
    def repo(self) -> pygit2.Repository:
        if self._repo is None:
            try:
                self._repo = pygit2.Repository(str(self.path))
            except pygit2.GitError as exc:
                raise GitError(f"Cannot open repository storage: {exc}") from None
        return self._repo

    # --- refs --------------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return bool(self.repo.is_empty)

    def resolve(self, revision: str) -> str:
        """A branch, tag, full ref or commit sha to a commit sha; RevisionNotFound otherwise."""
        repo = self.repo
        candidates = [revision] if revision.startswith("refs/") else [f"refs/heads/{revision}", f"refs/tags/{revision}"]
        for name in candidates:
            try:
                ref = repo.references.get(name)
            except (pygit2.InvalidSpecError, ValueError):
                ref = None
            if ref is not None:
                return str(ref.peel(pygit2.Commit).id)
        if is_commit_sha(revision):
            obj = repo.get(revision)
            if isinstance(obj, pygit2.Commit):
                return revision
        raise RevisionNotFound(f"Invalid rev id: {revision}")

    def ref_stamp(self, revision: str) -> tuple[tuple[int, int, int] | None, ...] | None:
        """What changes whenever `revision` may come to name another commit: the identity and time of
        the files git keeps it in (its loose ref file, as a branch or a tag, and packed-refs). git
        replaces a ref file by renaming a new one over it, so every update gives a new inode and time.
        None for a commit sha, which names the same commit for good and has no file to watch."""
        if is_commit_sha(revision):
            return None
        names = [revision] if revision.startswith("refs/") else [f"refs/heads/{revision}", f"refs/tags/{revision}"]
        stamp: list[tuple[int, int, int] | None] = []
        for name in (*names, "packed-refs"):
            try:
                found = os.stat(f"{self.path}/{name}")
            except (FileNotFoundError, NotADirectoryError):
                stamp.append(None)
            else:
                stamp.append((found.st_ino, found.st_mtime_ns, found.st_size))
        return tuple(stamp)

    def ref_target(self, ref: str) -> str | None:
        found = self.repo.references.get(ref)
        return None if found is None else str(found.peel(pygit2.Commit).id)

    def _refs(self, prefix: str) -> list[tuple[str, str]]:
        out = []
        for name in self.repo.references:
            if name.startswith(prefix):
                ref = self.repo.references[name]
                out.append((name[len(prefix) :], str(ref.peel(pygit2.Commit).id)))
        return sorted(out)

    def branches(self) -> list[tuple[str, str]]:
        return self._refs("refs/heads/")

    def tags(self) -> list[tuple[str, str]]:
        return self._refs("refs/tags/")

    def converts(self) -> list[tuple[str, str]]:
        return self._refs("refs/convert/")

    def pull_requests(self) -> list[tuple[str, str]]:
        """refs/pr/N as (N, target), for N's pull request (services/community/pulls.py)."""
        return self._refs("refs/pr/")

    def all_ref_targets(self) -> dict[str, str]:
        return {name: str(self.repo.references[name].resolve().target) for name in self.repo.references}

    def is_ancestor(self, old: str, new: str) -> bool:
        """Whether `new` contains `old` (a fast-forward); a missing object counts as not contained."""
        if old == new:
            return True
        try:
            return bool(self.repo.descendant_of(new, old))
        except (KeyError, ValueError, pygit2.GitError):
            return False

    def update_ref(self, ref: str, new: str, old: str | None) -> None:
        """Move `ref` to `new` only if it still points at `old` (None: must not exist)."""
        proc = run_git(self.path, "update-ref", ref, new, old or ZERO_SHA, check=False)
        if proc.returncode != 0:
            raise Conflict(f"{ref} was updated concurrently; retry against its new head")

    def delete_ref(self, ref: str) -> None:
        run_git(self.path, "update-ref", "-d", ref)

    def set_head(self, branch: str) -> None:
        run_git(self.path, "symbolic-ref", "HEAD", f"refs/heads/{branch}")

    # --- reading -----------------------------------------------------------------------------------

    def commit(self, sha: str) -> CommitInfo:
        obj = self.repo.get(sha)
        if not isinstance(obj, pygit2.Commit):
            raise RevisionNotFound(f"Invalid rev id: {sha}")
        return _commit_info(obj)

    def log(self, sha: str, *, skip: int = 0, limit: int = 50) -> tuple[list[CommitInfo], int]:
        """Commits reachable from `sha`, newest first, with the total count."""
        walker = self.repo.walk(pygit2.Oid(hex=sha), pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)
        out: list[CommitInfo] = []
        total = 0
        for commit in walker:
            if skip <= total < skip + limit:
                out.append(_commit_info(commit))
            total += 1
        return out, total

    def diff_commit(self, sha: str, limits: DiffLimits = DiffLimits()) -> tuple[FilePatch, ...]:
        """Per-file patches of a commit against its first parent (the empty tree for a first commit).

        Sizes are read from object headers before any blob is loaded, so LFS pointers, big files and
        binaries are named with a reason instead of being read; renames are found by identical content
        only, which compares ids and never reads blobs.
        """
        commit = self.repo.get(sha)
        if not isinstance(commit, pygit2.Commit):
            raise RevisionNotFound(f"Invalid rev id: {sha}")
        return self.diff_between(str(commit.parents[0].id) if commit.parents else None, sha, limits)

    def diff_between(self, old: str | None, new: str, limits: DiffLimits = DiffLimits()) -> tuple[FilePatch, ...]:
        """Per-file patches from commit `old` (None: the empty tree) to commit `new`, bounded as diff_commit's."""
        diff = self.tree_diff(old, new)
        diff.find_similar(flags=pygit2.enums.DiffFind.FIND_RENAMES | pygit2.enums.DiffFind.FIND_EXACT_MATCH_ONLY)
        out: list[FilePatch] = []
        budget = limits.lines
        for index, delta in enumerate(diff.deltas):
            status = _STATUS.get(delta.status_char(), "changed")
            path, old_path = delta.new_file.path, delta.old_file.path
            skipped = self.skip_reason(delta, limits) if index < limits.files else "limit"
            if skipped:
                out.append(FilePatch(path, old_path, status, 0, 0, (), skipped))
                continue
            patch = diff[index]
            if patch is None or patch.delta.is_binary:
                out.append(FilePatch(path, old_path, status, 0, 0, (), "binary"))
                continue
            _, additions, deletions = patch.line_stats
            lines = _patch_lines(patch)
            if len(lines) > budget:
                out.append(FilePatch(path, old_path, status, additions, deletions, (), "limit"))
                continue
            budget -= len(lines)
            out.append(FilePatch(path, old_path, status, additions, deletions, lines))
        return tuple(out)

    def tree_diff(self, old: str | None, new: str) -> pygit2.Diff:
        """libgit2's diff of two commits' trees (None: the empty tree), for git/merges.py and diff_between."""
        new_tree = self.repo[new].peel(pygit2.Tree)
        if old is None:
            return new_tree.diff_to_tree(swap=True, context_lines=3)
        return self.repo[old].peel(pygit2.Tree).diff_to_tree(new_tree, context_lines=3)

    def skip_reason(self, delta: pygit2.DiffDelta, limits: DiffLimits) -> str:
        for side in (delta.old_file, delta.new_file):
            if side.id == pygit2.Oid(hex=ZERO_SHA) or side.mode == pygit2.enums.FileMode.COMMIT:
                continue
            _, size = self.repo.odb.read_header(side.id)
            if size <= POINTER_MAX_SIZE and parse_pointer(self.repo[side.id].read_raw()) is not None:
                return "lfs"
            if size > limits.file_bytes:
                return "large"
        return ""

    def _tree_at(self, sha: str, folder: str) -> pygit2.Tree:
        tree = self.repo[sha].peel(pygit2.Tree)
        if folder:
            try:
                obj = tree[folder]
            except KeyError:
                raise EntryNotFound(f"Folder '{folder}' does not exist at revision {sha[:12]}") from None
            if obj.type != pygit2.enums.ObjectType.TREE:
                raise EntryNotFound(f"'{folder}' is a file, not a folder")
            tree = self.repo[obj.id].peel(pygit2.Tree)
        return tree

    def _entry(self, path: str, obj: pygit2.Object) -> TreeEntry:
        if obj.type == pygit2.enums.ObjectType.TREE:
            return TreeEntry(path=path, kind="directory", oid=str(obj.id), size=0)
        _, size = self.repo.odb.read_header(obj.id)
        lfs = None
        if size <= POINTER_MAX_SIZE:
            lfs = parse_pointer(self.repo[obj.id].read_raw())
        return TreeEntry(path=path, kind="file", oid=str(obj.id), size=size, lfs=lfs)

    def list_tree(self, sha: str, folder: str = "", *, recursive: bool = False) -> Iterator[TreeEntry]:
        """Entries under `folder`, directories before their contents when recursive."""
        tree = self._tree_at(sha, folder)
        prefix = f"{folder}/" if folder else ""
        stack: list[tuple[str, pygit2.Tree]] = [(prefix, tree)]
        while stack:
            base, current = stack.pop(0)
            for obj in current:
                if obj.type == pygit2.enums.ObjectType.COMMIT:  # submodule: nothing to list
                    continue
                path = base + str(obj.name)
                yield self._entry(path, obj)
                if recursive and obj.type == pygit2.enums.ObjectType.TREE:
                    stack.append((path + "/", self.repo[obj.id].peel(pygit2.Tree)))

    def files_named(self, sha: str, wanted: Callable[[str], bool]) -> Iterator[TreeEntry]:
        """The files at `sha` whose path `wanted` accepts; only those are read (sizes, LFS pointers), so a
        tree of many files costs a walk of names."""
        stack: list[tuple[str, pygit2.Tree]] = [("", self.repo[sha].peel(pygit2.Tree))]
        while stack:
            base, tree = stack.pop()
            for obj in tree:
                path = base + str(obj.name)
                if obj.type == pygit2.enums.ObjectType.TREE:
                    stack.append((path + "/", self.repo[obj.id].peel(pygit2.Tree)))
                elif obj.type == pygit2.enums.ObjectType.BLOB and wanted(path):
                    yield self._entry(path, obj)

    def entry(self, sha: str, path: str) -> TreeEntry:
        tree = self.repo[sha].peel(pygit2.Tree)
        try:
            obj = tree[path]
        except KeyError:
            raise EntryNotFound(f"Entry not found: '{path}' at revision {sha[:12]}") from None
        return self._entry(path, obj)

    def read_small_blob(self, oid: str) -> bytes:
        return bytes(self.repo[oid].read_raw())

    def stream_blob(
        self, oid: str, start: int = 0, end: int | None = None, env: Mapping[str, str] | None = None
    ) -> Iterator[bytes]:
        """Stream a blob through `git cat-file`, so a large blob never sits whole in memory (given a
        push's quarantine in `env`, also one the push brought)."""
        proc = subprocess.Popen(
            ["git", f"--git-dir={self.path}", "cat-file", "blob", oid],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=git_env(env),
        )
        assert proc.stdout is not None
        try:
            position = 0
            while True:
                chunk = proc.stdout.read(1024 * 1024)
                if not chunk:
                    break
                lo, hi = position, position + len(chunk)
                position = hi
                if hi <= start:
                    continue
                if end is not None and lo >= end:
                    break
                yield chunk[max(start - lo, 0) : (len(chunk) if end is None else min(end - lo, len(chunk)))]
        finally:
            proc.stdout.close()
            proc.kill()
            proc.wait()

    # --- writing -----------------------------------------------------------------------------------

    @contextmanager
    def quarantined(self) -> Iterator[GitRepo]:
        """This repository, except that the objects it writes wait in a quarantine until `admit_objects`.

        Whatever was not admitted is deleted on the way out, so a refused or failed write leaves nothing.
        """
        quarantine = ObjectQuarantine(self.path)
        staged = GitRepo(self.path)
        staged._quarantine = quarantine
        try:
            staged._repo = quarantine.open_repo()
            yield staged
        finally:
            if staged._repo is not None:
                staged._repo.free()
            quarantine.remove()

    def admit_objects(self, commit: str) -> None:
        """Move the quarantined objects of `commit` in if git's fsck accepts them; else InvalidArgument."""
        if self._quarantine is None:
            return
        try:
            self._quarantine.admit()
        except FsckRefused as exc:
            problem = exc.problem
            raise InvalidArgument(
                f"Git refuses {self._describe(commit, problem.oid)} ({problem.msg_id}: {problem.detail}); "
                "a clone with transfer.fsckObjects would fail"
            ) from None

    def _describe(self, commit: str, oid: str) -> str:
        """The path at which `oid` appears in `commit`, for an error message."""
        if oid == commit:
            return "the commit"
        root = self.repo[commit].peel(pygit2.Tree)
        if str(root.id) == oid:
            return "the commit's tree"
        stack: list[tuple[str, pygit2.Tree]] = [("", root)]
        while stack:
            base, tree = stack.pop()
            for obj in tree:
                path = base + str(obj.name)
                if str(obj.id) == oid:
                    return f"'{path}'"
                if obj.type == pygit2.enums.ObjectType.TREE:
                    stack.append((path + "/", self.repo[obj.id].peel(pygit2.Tree)))
        return f"object {oid}"

    def write_blob(self, data: bytes) -> str:
        return str(self.repo.create_blob(data))

    def write_blob_from_path(self, path: Path) -> str:
        return str(self.repo.create_blob_fromdisk(str(path)))

    def create_commit(
        self,
        *,
        parent: str | None,
        changes: list[FileChange],
        deleted_folders: list[str],
        message: str,
        author_name: str,
        author_email: str,
    ) -> str:
        """Write a commit on top of `parent` (None for the first commit); the ref is not moved."""
        index = pygit2.Index()
        if parent is not None:
            index.read_tree(self.repo[parent].peel(pygit2.Tree))
        for folder in deleted_folders:
            prefix = folder.rstrip("/") + "/"
            doomed = [e.path for e in index if e.path.startswith(prefix)]
            if not doomed:
                raise EntryNotFound(f"Folder '{folder}' does not exist")
            for path in doomed:
                index.remove(path)
        existing = {e.path for e in index}
        for change in changes:
            if change.blob_oid is None:
                if change.path not in existing:
                    raise EntryNotFound(f"File '{change.path}' does not exist, so it cannot be deleted")
                index.remove(change.path)
                existing.discard(change.path)
        for change in changes:
            if change.blob_oid is None:
                continue
            self._check_no_conflict(existing, change.path)
            try:
                index.add(pygit2.IndexEntry(change.path, pygit2.Oid(hex=change.blob_oid), pygit2.enums.FileMode.BLOB))
            except pygit2.GitError as exc:  # libgit2's own path rules, should core/paths.py ever miss one
                raise InvalidArgument(f"Invalid path '{change.path}': {exc}") from None
            existing.add(change.path)
        tree = index.write_tree(self.repo)
        signature = pygit2.Signature(author_name or "csghub", author_email or "noreply@csghub.local")
        parents = [pygit2.Oid(hex=parent)] if parent else []
        oid = self.repo.create_commit(None, signature, signature, message, tree, parents)
        return str(oid)

    @staticmethod
    def _check_no_conflict(existing: set[str], path: str) -> None:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in existing:
                raise InvalidArgument(f"Cannot add '{path}': '{'/'.join(parts[:i])}' is a file")
        prefix = path + "/"
        if any(p.startswith(prefix) for p in existing):
            raise InvalidArgument(f"Cannot add file '{path}': a folder of that name exists")

    def _objects_between(
        self, new_tips: list[str], old_tips: list[str], env: Mapping[str, str] | None
    ) -> dict[bytes, bytes]:
        """Object id -> a path it has, for objects reachable from new_tips but not from old_tips."""
        args = ["rev-list", "--objects", *new_tips]
        if old_tips:
            args += ["--not", *old_tips]
        listing = run_git(self.path, *args, env=env).stdout
        paths: dict[bytes, bytes] = {}
        for line in listing.splitlines():
            sha, _, path = line.partition(b" ")
            if sha:
                paths[sha] = path
        return paths

    def blobs_between(
        self, new_tips: list[str], old_tips: list[str], env: Mapping[str, str] | None = None
    ) -> list[tuple[str, str, int]]:
        """(path, blob id, size) of the blobs reachable from new_tips but not from old_tips; like
        `lfs_pointers_between`, it sees a push's quarantined objects given its `env`."""
        if not new_tips:
            return []
        paths = self._objects_between(new_tips, old_tips, env)
        if not paths:
            return []
        check = run_git(
            self.path,
            "cat-file",
            "--batch-check=%(objectname) %(objecttype) %(objectsize)",
            input=b"\n".join(paths) + b"\n",
            env=env,
        ).stdout
        return [
            (paths.get(fields[0], b"").decode(errors="replace"), fields[0].decode(), int(fields[2]))
            for fields in (line.split() for line in check.splitlines())
            if len(fields) == 3 and fields[1] == b"blob"
        ]

    def lfs_pointers_between(
        self, new_tips: list[str], old_tips: list[str], env: Mapping[str, str] | None = None
    ) -> list[tuple[str, LfsPointer]]:
        """LFS pointers in blobs reachable from new_tips but not from old_tips, each with a path it has.

        Runs through git programs (not pygit2) so that, given a push's quarantine in `env`, it sees
        the pushed objects, which git keeps in a directory named only by environment variables.
        """
        if not new_tips:
            return []
        paths = self._objects_between(new_tips, old_tips, env)
        ids = b"\n".join(paths)
        if not ids:
            return []
        check = run_git(
            self.path,
            "cat-file",
            "--batch-check=%(objectname) %(objecttype) %(objectsize)",
            input=ids + b"\n",
            env=env,
        ).stdout
        small = [
            fields[0]
            for fields in (line.split() for line in check.splitlines())
            if len(fields) == 3 and fields[1] == b"blob" and int(fields[2]) <= POINTER_MAX_SIZE
        ]
        if not small:
            return []
        batch = run_git(self.path, "cat-file", "--batch", input=b"\n".join(small) + b"\n", env=env).stdout
        pointers: list[tuple[str, LfsPointer]] = []
        pos = 0
        while pos < len(batch):
            header_end = batch.index(b"\n", pos)
            sha, _, size = batch[pos:header_end].split()
            body = batch[header_end + 1 : header_end + 1 + int(size)]
            pos = header_end + 1 + int(size) + 1
            pointer = parse_pointer(body)
            if pointer is not None:
                pointers.append((paths.get(sha, b"").decode(errors="replace"), pointer))
        return pointers

    def loose_object_count(self) -> int:
        out = run_git(self.path, "count-objects", "-v").stdout.decode()
        fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        return int(fields.get("count", "0"))

    def maintain(self, loose_limit: int = 64) -> None:
        """Keep the repository packed: loose objects make clones an order of magnitude slower.

        Loose objects from commits are packed into a small pack as soon as a few accumulate; git's
        own `gc --auto` then folds the small packs into one with bitmaps once there are many.
        """
        if self.loose_object_count() > loose_limit:
            run_git(self.path, "repack", "-d", "-q", "--no-write-bitmap-index", check=False)
        run_git(self.path, "gc", "--auto", "--quiet", check=False)
