"""Objects the hub writes itself, held apart until git's own fsck accepts them.

A push is checked by `git receive-pack` (receive.fsckObjects): the pushed pack goes through `git
index-pack --strict` in a quarantine directory and moves into the repository only when it passes.
Commits made through the API and the portal get the same treatment: pygit2 writes their objects into
a quarantine directory under objects/, the same `git index-pack --strict` reads them as one pack
(every fsck rule, .gitmodules included, warnings counted as errors), and only an accepted pack moves
in. A refused one is deleted with its directory, so the repository never holds an object that a
`git clone -c transfer.fsckObjects=true` would refuse.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pygit2

from csghub.core.errors import GitError
from csghub.git.runner import git_env

# The prefix `git prune` removes when a crash leaves such a directory behind (git's tmp-objdir.c).
PREFIX = "tmp_objdir-csghub-"
# Above the loose (1) and pack (2) backends of the repository, so every write lands here first.
_PRIORITY = 1000
_FSCK_LINE = re.compile(r"^error: object ([0-9a-f]{40}): (\w+): (.*)$", re.MULTILINE)
# A pack's files in the order they move: its index last, because the index makes it visible.
_PACK_ORDER = (".pack", ".rev", ".idx")


@dataclass(frozen=True, slots=True)
class FsckProblem:
    """What git's fsck said about one object: its id, the message id (e.g. gitmodulesUrl) and text."""

    oid: str
    msg_id: str
    detail: str


class FsckRefused(Exception):
    """Git's fsck refused an object; the adapter above turns this into InvalidArgument with a path."""

    def __init__(self, problem: FsckProblem) -> None:
        super().__init__(f"{problem.msg_id}: {problem.detail}")
        self.problem = problem


class ObjectQuarantine:
    """A directory under `<git_dir>/objects` that receives the new objects of one write."""

    def __init__(self, git_dir: Path) -> None:
        self.git_dir = git_dir
        self.objects = git_dir / "objects"
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=self.objects))

    def open_repo(self) -> pygit2.Repository:
        """The repository as pygit2 sees it, except that new objects are written to the quarantine."""
        repo = pygit2.Repository(str(self.git_dir))
        repo.odb.add_backend(pygit2.OdbBackendLoose(str(self.path), -1, False), _PRIORITY)
        return repo

    def _env(self) -> dict[str, str]:
        # The variables receive-pack sets for its quarantine: write here, read the repository too.
        return git_env({"GIT_OBJECT_DIRECTORY": str(self.path), "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(self.objects)})

    def object_ids(self) -> list[str]:
        return sorted(
            fan.name + entry.name
            for fan in self.path.iterdir()
            if len(fan.name) == 2 and fan.is_dir()
            for entry in fan.iterdir()
            if len(entry.name) == 38
        )

    def admit(self) -> None:
        """Check every quarantined object with `git index-pack --strict`, then move them in as one pack.

        Raises FsckRefused (nothing moves) when git's fsck refuses an object.
        """
        ids = self.object_ids()
        if not ids:
            return
        env = self._env()
        git = ["git", f"--git-dir={self.git_dir}"]
        # No delta search: the pack is short-lived, the next repack finds the deltas.
        packer = subprocess.Popen(
            [*git, "pack-objects", "--stdout", "--window=0", "-q"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert packer.stdin is not None and packer.stdout is not None and packer.stderr is not None
        indexer = subprocess.Popen(
            [*git, "index-pack", "--strict", "--stdin"],
            stdin=packer.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        packer.stdout.close()  # index-pack owns the read end now
        packer.stdin.write("\n".join(ids).encode() + b"\n")
        packer.stdin.close()
        _, index_err = indexer.communicate()
        pack_err = packer.stderr.read()
        packer.stderr.close()
        packed = packer.wait()
        # index-pack first: when it stops at a refused object, pack-objects dies of the closed pipe.
        if indexer.returncode != 0:
            stderr = index_err.decode(errors="replace")
            found = _FSCK_LINE.search(stderr)
            if found is None:
                raise GitError(f"git index-pack failed: {stderr.strip()}", stderr=stderr)
            raise FsckRefused(FsckProblem(found[1], found[2], found[3].strip()))
        if packed != 0:
            stderr = pack_err.decode(errors="replace")
            raise GitError(f"git pack-objects failed: {stderr.strip()}", stderr=stderr)
        self._move_packs()

    def _move_packs(self) -> None:
        target = self.objects / "pack"
        target.mkdir(exist_ok=True)
        for suffix in _PACK_ORDER:
            for item in sorted((self.path / "pack").glob(f"pack-*{suffix}")):
                destination = target / item.name
                if not destination.exists():  # the same name holds the same objects
                    os.replace(item, destination)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
