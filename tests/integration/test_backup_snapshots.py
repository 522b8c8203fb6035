"""A repository's object files copied while git repacks them: the copy still holds every object its
snapshotted refs reach (git/snapshots.py), with the real git."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from csghub.git import snapshots
from tests.support.clients import client_env, git


def _repo_with_loose_objects(tmp: Path) -> Path:
    env = client_env(tmp / "home")
    work = tmp / "work"
    git("init", "-q", "-b", "main", str(work), cwd=tmp, env=env)
    for i in range(5):
        (work / f"f{i}.txt").write_text(f"content {i}\n" * (i + 1))
        git("add", ".", cwd=work, env=env)
        git("commit", "-qm", f"c{i}", cwd=work, env=env)
    bare = tmp / "repo.git"
    git("clone", "-q", "--bare", "--no-local", str(work), str(bare), cwd=tmp, env=env)
    (tmp / "extra.txt").write_text("loose\n")  # a clone packs everything: one loose object beside the pack
    git(f"--git-dir={bare}", "hash-object", "-w", str(tmp / "extra.txt"), cwd=tmp, env=env)
    return bare


def test_copy_while_repacking_still_reaches_every_object(tmp_path: Path) -> None:
    bare = _repo_with_loose_objects(tmp_path)
    refs = snapshots.read_refs(bare)
    assert refs.head == "refs/heads/main" and set(refs.refs) == {"refs/heads/main"}
    assert any("/" in rel and not rel.startswith("pack/") for rel in snapshots.object_files(bare))
    archive = tmp_path / "archive.git"
    snapshots.make_archive_repo(archive)
    repacked = []

    def copy(rel: str) -> None:
        if not repacked:  # the first file copied sets off a repack that drops every loose object
            subprocess.run(["git", f"--git-dir={bare}", "repack", "-a", "-d", "-q"], check=True)
            repacked.append(rel)
        target = archive / "objects" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bare / "objects" / rel, target)

    copied = snapshots.copy_object_files(bare, copy)
    assert repacked and copied >= 2
    snapshots.write_refs(archive, refs)
    snapshots.check_connected(archive)
    assert snapshots.read_refs(archive) == refs


def test_write_refs_refuses_a_ref_whose_object_is_missing(tmp_path: Path) -> None:
    archive = tmp_path / "archive.git"
    snapshots.make_archive_repo(archive)
    missing = snapshots.RefSnapshot("refs/heads/main", {"refs/heads/main": "1" * 40})
    try:
        snapshots.write_refs(archive, missing)
    except Exception as exc:  # GitError from the adapter, naming the object
        assert "1111111" in str(exc)
    else:
        raise AssertionError("a ref to a missing object was written")
