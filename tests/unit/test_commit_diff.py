"""GitRepo.diff_commit: per-file patches against the first parent, with files it should not read named."""

from __future__ import annotations

from pathlib import Path

import pytest

from csghub.core.errors import RevisionNotFound
from csghub.git.repository import DiffLimits, FileChange, GitRepo

POINTER = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"a" * 64 + b"\nsize 123456\n"


def _commit(git: GitRepo, parent: str | None, files: dict[str, bytes | None], message: str = "change") -> str:
    changes = [FileChange(path, None if data is None else git.write_blob(data)) for path, data in files.items()]
    return git.create_commit(
        parent=parent, changes=changes, deleted_folders=[], message=message, author_name="a", author_email="a@b"
    )


@pytest.fixture
def git(tmp_path: Path) -> GitRepo:
    return GitRepo.init_bare(tmp_path / "repo.git")


def test_diff_commit_first_commit_adds_every_line(git: GitRepo) -> None:
    sha = _commit(git, None, {"a.txt": b"one\ntwo\n"})
    (patch,) = git.diff_commit(sha)
    assert (patch.path, patch.status, patch.additions, patch.deletions, patch.skipped) == ("a.txt", "added", 2, 0, "")
    assert [(line.kind, line.new_no, line.text) for line in patch.lines] == [
        ("hunk", None, "@@ -0,0 +1,2 @@"),
        ("add", 1, "one"),
        ("add", 2, "two"),
    ]


def test_diff_commit_modified_deleted_and_renamed_files(git: GitRepo) -> None:
    first = _commit(git, None, {"a.txt": b"one\ntwo\nthree\n", "old.txt": b"same\n", "gone.txt": b"bye\n"})
    second = _commit(
        git, first, {"a.txt": b"one\nTWO\nthree\n", "old.txt": None, "new.txt": b"same\n", "gone.txt": None}
    )
    patches = {p.path: p for p in git.diff_commit(second)}
    a = patches["a.txt"]
    assert a.status == "modified" and (a.additions, a.deletions) == (1, 1)
    assert [(line.kind, line.old_no, line.new_no, line.text) for line in a.lines if line.kind != "context"] == [
        ("hunk", None, None, "@@ -1,3 +1,3 @@"),
        ("del", 2, None, "two"),
        ("add", None, 2, "TWO"),
    ]
    assert patches["new.txt"].status == "renamed" and patches["new.txt"].old_path == "old.txt"
    assert patches["gone.txt"].status == "deleted" and patches["gone.txt"].deletions == 1


def test_diff_commit_names_lfs_binary_and_large_files_instead_of_reading_them(git: GitRepo) -> None:
    sha = _commit(git, None, {"w.bin": POINTER, "raw.bin": b"\x00\x01" * 50, "big.txt": b"x\n" * 1000})
    patches = {p.path: p for p in git.diff_commit(sha, DiffLimits(file_bytes=1000))}
    assert {path: p.skipped for path, p in patches.items()} == {"w.bin": "lfs", "raw.bin": "binary", "big.txt": "large"}
    assert all(p.lines == () for p in patches.values())


def test_diff_commit_limits_lines_and_files(git: GitRepo) -> None:
    sha = _commit(git, None, {"a.txt": b"1\n2\n3\n", "b.txt": b"1\n", "c.txt": b"1\n"})
    by_lines = [(p.path, p.skipped) for p in git.diff_commit(sha, DiffLimits(lines=3))]
    assert by_lines == [("a.txt", "limit"), ("b.txt", ""), ("c.txt", "limit")]
    by_files = [(p.path, p.skipped) for p in git.diff_commit(sha, DiffLimits(files=1))]
    assert by_files == [("a.txt", ""), ("b.txt", "limit"), ("c.txt", "limit")]


def test_diff_commit_of_something_else_than_a_commit_is_not_found(git: GitRepo) -> None:
    _commit(git, None, {"a.txt": b"x\n"})
    blob = git.write_blob(b"x\n")
    with pytest.raises(RevisionNotFound):
        git.diff_commit(blob)
