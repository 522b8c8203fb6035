"""git/merges.py: whether a merge conflicts (and on which files), the merge commit, a pull request's
commits, and its diff text cut at a bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from csghub.git import merges
from csghub.git.repository import FileChange, GitRepo

POINTER = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"b" * 64 + b"\nsize 99\n"


def _commit(git: GitRepo, parent: str | None, files: dict[str, bytes], message: str = "change") -> str:
    changes = [FileChange(path, git.write_blob(data)) for path, data in files.items()]
    return git.create_commit(
        parent=parent, changes=changes, deleted_folders=[], message=message, author_name="a", author_email="a@b"
    )


@pytest.fixture
def git(tmp_path: Path) -> GitRepo:
    return GitRepo.init_bare(tmp_path / "repo.git")


def test_a_clean_merge_writes_a_commit_with_both_parents_and_both_changes(git: GitRepo) -> None:
    base = _commit(git, None, {"a.txt": b"a\n", "b.txt": b"b\n"})
    ours = _commit(git, base, {"a.txt": b"a, ours\n"})
    theirs = _commit(git, base, {"b.txt": b"b, theirs\n"})
    assert merges.try_merge(git, ours, theirs).conflicts == ()
    assert merges.merge_base(git, ours, theirs) == base
    made = merges.write_merge_commit(git, ours, theirs, message="Merge", author_name="m", author_email="m@x")
    assert isinstance(made, str)
    assert git.commit(made).parents == (ours, theirs)
    assert git.read_small_blob(git.entry(made, "a.txt").oid) == b"a, ours\n"
    assert git.read_small_blob(git.entry(made, "b.txt").oid) == b"b, theirs\n"


def test_conflicting_changes_name_their_files_and_write_no_commit(git: GitRepo) -> None:
    base = _commit(git, None, {"a.txt": b"a\n", "same.txt": b"s\n", "c/d.txt": b"d\n"})
    ours = _commit(git, base, {"a.txt": b"ours\n", "c/d.txt": b"ours\n"})
    theirs = _commit(git, base, {"a.txt": b"theirs\n", "c/d.txt": b"theirs\n", "same.txt": b"t\n"})
    assert merges.try_merge(git, ours, theirs).conflicts == ("a.txt", "c/d.txt")
    made = merges.write_merge_commit(git, ours, theirs, message="Merge", author_name="m", author_email="m@x")
    assert made == merges.MergeOutcome(("a.txt", "c/d.txt"))


def test_a_fast_forward_never_conflicts(git: GitRepo) -> None:
    base = _commit(git, None, {"a.txt": b"a\n"})
    ahead = _commit(git, base, {"a.txt": b"changed\n"})
    assert merges.try_merge(git, base, ahead).conflicts == ()
    assert merges.try_merge(git, ahead, base).conflicts == ()


def test_commits_between_lists_only_the_pull_requests_own_newest_first(git: GitRepo) -> None:
    base = _commit(git, None, {"a.txt": b"a\n"}, "base")
    one = _commit(git, base, {"b.txt": b"b\n"}, "one")
    two = _commit(git, one, {"c.txt": b"c\n"}, "two")
    assert [c.sha for c in merges.commits_between(git, base, two, 10)] == [two, one]
    assert [c.title for c in merges.commits_between(git, None, two, 2)] == ["two", "one"]


def test_the_diff_text_shows_changes_names_lfs_pointers_and_is_cut_at_its_bound(git: GitRepo) -> None:
    base = _commit(git, None, {"a.txt": b"old\n"})
    head = _commit(git, base, {"a.txt": b"new\n", "w.bin": POINTER, "z.txt": b"z" * 5000 + b"\n"})
    text, cut = merges.unified_diff(git, base, head)
    assert not cut
    assert "-old\n+new\n" in text and "oid sha256:" + "b" * 64 in text and "z" * 5000 in text
    short, cut = merges.unified_diff(git, base, head, max_bytes=600)
    assert cut and len(short.encode()) < 700 and "-old\n+new\n" in short and "z" * 5000 not in short
    assert short.endswith("[The diff is cut here: it is larger than 600 bytes.]\n")
