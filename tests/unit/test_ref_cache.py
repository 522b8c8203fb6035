"""A ref's stamp (GitRepo.ref_stamp) changes with every way the ref moves, from this process or any
other; RefCache answers only for an unchanged stamp and keeps nothing read before an invalidation."""

from __future__ import annotations

import subprocess
from pathlib import Path

from csghub.git.repository import GitRepo
from csghub.services.read_cache import RefCache


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo: Path, message: str) -> str:
    tree = _git(repo, "mktree")  # the empty tree, from empty input
    return _git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit-tree", tree, "-m", message)


def test_the_stamp_changes_whenever_the_ref_moves(tmp_path: Path) -> None:
    _git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", ".")
    repo = GitRepo(tmp_path)
    first, second = _commit(tmp_path, "one"), _commit(tmp_path, "two")
    assert repo.ref_stamp(first) is None  # a commit sha never moves
    stamps = [repo.ref_stamp("main")]
    _git(tmp_path, "update-ref", "refs/heads/main", first)
    stamps.append(repo.ref_stamp("main"))
    _git(tmp_path, "update-ref", "refs/heads/main", second)
    stamps.append(repo.ref_stamp("main"))
    _git(tmp_path, "pack-refs", "--all")  # the loose file goes, packed-refs holds the ref
    stamps.append(repo.ref_stamp("main"))
    _git(tmp_path, "tag", "main", first)  # a tag of the same name is tried after the branch
    stamps.append(repo.ref_stamp("main"))
    _git(tmp_path, "update-ref", "-d", "refs/heads/main")
    stamps.append(repo.ref_stamp("main"))
    assert len(set(stamps)) == len(stamps)
    assert repo.ref_stamp("refs/heads/main") != repo.ref_stamp("refs/tags/main")


def test_the_cache_answers_for_the_same_stamp_and_refuses_what_a_write_overtook() -> None:
    cache = RefCache(size=2)
    generation = cache.generation
    cache.put("/r", "main", ("a",), "sha-1", generation)
    assert cache.get("/r", "main", ("a",)) == "sha-1"
    assert cache.get("/r", "main", ("b",)) is None
    cache.invalidate()
    assert cache.get("/r", "main", ("a",)) is None
    cache.put("/r", "main", ("a",), "sha-old", generation)  # read before the write: not kept
    assert cache.get("/r", "main", ("a",)) is None
