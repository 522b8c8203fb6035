"""Objects the hub writes wait in a quarantine until `git index-pack --strict` accepts them.

Runs the real git on repositories in a temporary directory: core/paths.py must agree with git's fsck
on every spelling of `.git`, and a refused write must leave the repository byte for byte as it was.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from csghub.core.errors import InvalidArgument
from csghub.core.paths import is_dotgit
from csghub.git.quarantine import PREFIX, FsckRefused, ObjectQuarantine
from csghub.git.repository import FileChange, GitRepo
from csghub.git.runner import git_env
from tests.unit.test_paths import DOTGIT, NOT_DOTGIT

BAD_URL = b'[submodule "x"]\n\tpath = x\n\turl = --upload-pack=touch /tmp/pwned\n'


def _files(repo: GitRepo) -> list[str]:
    return sorted(str(p.relative_to(repo.path)) for p in (repo.path / "objects").rglob("*") if p.is_file())


def _commit(repo: GitRepo, files: dict[str, bytes], parent: str | None = None) -> str:
    changes = [FileChange(path, repo.write_blob(data)) for path, data in files.items()]
    return repo.create_commit(
        parent=parent, changes=changes, deleted_folders=[], message="m", author_name="a", author_email="a@x"
    )


@pytest.mark.parametrize("name", DOTGIT + NOT_DOTGIT)
def test_git_fsck_agrees_with_core_paths_on_dotgit_spellings(tmp_path: Path, name: str) -> None:
    repo = GitRepo.init_bare(tmp_path / "r.git")
    quarantine = ObjectQuarantine(repo.path)
    env = git_env({"GIT_OBJECT_DIRECTORY": str(quarantine.path)})

    def plumb(*args: str, stdin: bytes) -> str:
        proc = subprocess.run(
            ["git", f"--git-dir={repo.path}", *args], input=stdin, env=env, capture_output=True, check=True
        )
        return proc.stdout.decode().strip()

    try:
        blob = plumb("hash-object", "-w", "--stdin", stdin=b"x")
        plumb("mktree", stdin=f"100644 blob {blob}\t{name}\n".encode())
        if is_dotgit(name):
            with pytest.raises(FsckRefused) as caught:
                quarantine.admit()
            assert caught.value.problem.msg_id == "hasDotgit"
        else:
            quarantine.admit()
    finally:
        quarantine.remove()


def test_an_accepted_commit_arrives_as_one_pack_and_leaves_no_quarantine(tmp_path: Path) -> None:
    repo = GitRepo.init_bare(tmp_path / "r.git")
    files = {f"d{i % 7}/f{i}.txt": f"{i}\n".encode() for i in range(50)}
    with repo.quarantined() as staged:
        sha = _commit(staged, files)
        staged.admit_objects(sha)
    repo.update_ref("refs/heads/main", sha, None)
    assert repo.loose_object_count() == 0
    assert not list((repo.path / "objects").glob(f"{PREFIX}*"))
    assert [p.suffix for p in sorted((repo.path / "objects" / "pack").iterdir())] == [".idx", ".pack"]
    assert {e.path for e in repo.list_tree(sha, recursive=True) if e.kind == "file"} == set(files)
    fsck = subprocess.run(["git", "--git-dir", str(repo.path), "fsck", "--strict"], capture_output=True, env=git_env())
    assert fsck.returncode == 0, fsck.stderr


def test_a_refused_commit_leaves_the_repository_as_it_was(tmp_path: Path) -> None:
    repo = GitRepo.init_bare(tmp_path / "r.git")
    with repo.quarantined() as staged:
        first = _commit(staged, {"README.md": b"hi\n"})
        staged.admit_objects(first)
    repo.update_ref("refs/heads/main", first, None)
    before = _files(repo)
    with pytest.raises(InvalidArgument) as caught, repo.quarantined() as staged:
        sha = _commit(staged, {"new.txt": b"new\n", "sub/.gitmodules": b"ok", ".gitmodules": BAD_URL}, first)
        staged.admit_objects(sha)
    assert "'.gitmodules'" in caught.value.message and "gitmodulesUrl" in caught.value.message
    assert _files(repo) == before
    # An error before admission (a bad path, a full disk) discards the quarantine the same way.
    with pytest.raises(InvalidArgument), repo.quarantined() as staged:
        _commit(staged, {"ok.txt": b"1", ".git./config": b"x"}, first)
    assert _files(repo) == before
