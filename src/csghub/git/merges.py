"""Merging one commit into another in a bare repository (libgit2, in-process), and the text of a diff.

Pull requests need three things git's porcelain does in a work tree: whether a merge would conflict (and
where), the merge commit itself (written to the object store, the ref is moved by the caller), and the
unified diff a reviewer reads, bounded in bytes because a pull request may change anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygit2

from csghub.git.repository import CommitInfo, DiffLimits, GitRepo

# Above this many bytes a pull request's diff is cut, with a note saying so.
DIFF_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    """What merging `theirs` into `ours` gives: the files that conflict, or none (a clean merge)."""

    conflicts: tuple[str, ...]


def merge_base(git: GitRepo, a: str, b: str) -> str | None:
    """The best common ancestor of two commits; None when their histories never met."""
    found = git.repo.merge_base(a, b)
    return None if found is None else str(found)


def _merge_index(git: GitRepo, ours: str, theirs: str) -> pygit2.Index:
    return git.repo.merge_commits(ours, theirs, favor=pygit2.enums.MergeFavor.NORMAL)


def _conflict_paths(index: pygit2.Index) -> tuple[str, ...]:
    if index.conflicts is None:
        return ()
    paths = set()
    for ancestor, mine, other in index.conflicts:
        for entry in (ancestor, mine, other):
            if entry is not None:
                paths.add(entry.path)
    return tuple(sorted(paths))


def try_merge(git: GitRepo, ours: str, theirs: str) -> MergeOutcome:
    """Whether `theirs` merges cleanly into `ours`, without writing anything."""
    if git.is_ancestor(ours, theirs) or git.is_ancestor(theirs, ours):
        return MergeOutcome(())
    return MergeOutcome(_conflict_paths(_merge_index(git, ours, theirs)))


def write_merge_commit(
    git: GitRepo, ours: str, theirs: str, *, message: str, author_name: str, author_email: str
) -> str | MergeOutcome:
    """A merge commit of `theirs` into `ours` (parents in that order), or the conflicts that prevent it.

    Objects go to `git`'s object store: pass a quarantined GitRepo so a refused merge leaves nothing."""
    index = _merge_index(git, ours, theirs)
    conflicts = _conflict_paths(index)
    if conflicts:
        return MergeOutcome(conflicts)
    tree = index.write_tree(git.repo)
    signature = pygit2.Signature(author_name or "csghub", author_email or "noreply@csghub.local")
    parents = [pygit2.Oid(hex=ours), pygit2.Oid(hex=theirs)]
    return str(git.repo.create_commit(None, signature, signature, message, tree, parents))


def unified_diff(git: GitRepo, old: str | None, new: str, max_bytes: int = DIFF_MAX_BYTES) -> tuple[str, bool]:
    """`git diff old new` as text, and whether it was cut at `max_bytes`. LFS pointers show as the
    pointer text they are; large and binary files are named without their content."""
    diff = git.tree_diff(old, new)
    limits = DiffLimits()
    out: list[str] = []
    used = 0
    for index, delta in enumerate(diff.deltas):
        old_path, new_path = delta.old_file.path, delta.new_file.path
        reason = git.skip_reason(delta, limits)
        patch = None if reason == "large" else diff[index]
        if patch is None or patch.delta.is_binary:
            text = f"diff --git a/{old_path} b/{new_path}\nBinary or large file {new_path} not shown\n"
        else:
            text = patch.text or ""
        encoded = len(text.encode())
        if used + encoded > max_bytes:
            out.append(f"\n[The diff is cut here: it is larger than {max_bytes} bytes.]\n")
            return "".join(out), True
        out.append(text)
        used += encoded
    return "".join(out), False


def commits_between(git: GitRepo, base: str | None, head: str, limit: int) -> tuple[CommitInfo, ...]:
    """Commits reachable from `head` but not from `base` (`git log base..head`), newest first, at most `limit`."""
    walker = git.repo.walk(pygit2.Oid(hex=head), pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)
    if base:
        walker.hide(pygit2.Oid(hex=base))
    found: list[CommitInfo] = []
    for commit in walker:
        if len(found) >= limit:
            break
        found.append(git.commit(str(commit.id)))
    return tuple(found)
