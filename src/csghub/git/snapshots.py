"""A bare repository's refs and object files, as a backup copies them while pushes go on.

Git objects never change once written, so a copy is consistent if it takes the refs first and then every
object file: the objects those refs reach were on disk when the refs were read, and stay there, or (a
repack meanwhile) move into a new pack that a later listing finds. So the object files are listed again
until a pass finds nothing new and loses nothing; only then is the copy whole. Packs are taken with their
index only (bitmaps and reverse indexes are caches git rebuilds).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from csghub.git.repository import GitRepo
from csghub.git.runner import run_git

_LOOSE = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{38}$")
_PACK = re.compile(r"^pack/pack-[0-9a-f]{40,64}\.(pack|idx)$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_MAX_PASSES = 100


class SnapshotError(Exception):
    """The objects of a repository kept changing under the copy, or its refs could not be read."""


@dataclass(frozen=True, slots=True)
class RefSnapshot:
    head: str  # the branch HEAD names, "refs/heads/main"
    refs: dict[str, str]  # every ref -> the object it points at (a commit, or an annotated tag)


def read_refs(path: Path) -> RefSnapshot:
    """Every ref of a repository at this instant (call it holding the repository's write lock)."""
    listing = run_git(path, "for-each-ref", "--format=%(objectname) %(refname)").stdout.decode()
    refs = {}
    for line in listing.splitlines():
        sha, _, name = line.partition(" ")
        refs[name] = sha
    head = run_git(path, "symbolic-ref", "-q", "HEAD", check=False).stdout.decode().strip() or "refs/heads/main"
    return RefSnapshot(head, refs)


def object_files(path: Path) -> list[str]:
    """Object files under `objects/` (relative to it): loose objects, and packs whose index is written."""
    root = path / "objects"
    found = []
    for item in root.glob("[0-9a-f][0-9a-f]/*"):
        rel = item.relative_to(root).as_posix()
        if _LOOSE.match(rel):
            found.append(rel)
    packs = {
        p.relative_to(root).as_posix() for p in root.glob("pack/pack-*") if _PACK.match(p.relative_to(root).as_posix())
    }
    for rel in packs:
        # A pack is usable once git wrote its index; one caught half-way is picked up by a later pass.
        base = rel.rsplit(".", 1)[0]
        if f"{base}.pack" in packs and f"{base}.idx" in packs:
            found.append(rel)
    return sorted(found)


def copy_object_files(path: Path, copy: Callable[[str], None]) -> int:
    """Call `copy(rel)` for every object file until a listing finds nothing new and none vanished mid-copy
    (a repack moved it into a new pack); returns the files copied."""
    done: set[str] = set()
    for _ in range(_MAX_PASSES):
        pending = [rel for rel in object_files(path) if rel not in done]
        vanished = False
        for rel in pending:
            try:
                copy(rel)
                done.add(rel)
            except FileNotFoundError:
                vanished = True
        if not pending and not vanished:
            return len(done)
    raise SnapshotError(f"the objects of {path} kept changing during the copy")


def make_archive_repo(path: Path) -> None:
    """An empty bare repository that names no hooks and no settings of the hub's (the archive's form)."""
    for folder in ("objects/pack", "refs/heads", "refs/tags"):
        (path / folder).mkdir(parents=True, exist_ok=True)
    (path / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = true\n")
    (path / "HEAD").write_text("ref: refs/heads/main\n")  # git knows a repository by its HEAD; set later


def write_refs(path: Path, snapshot: RefSnapshot) -> None:
    """Set the snapshot's refs and HEAD; git refuses a ref whose object is not in the repository."""
    for ref, sha in snapshot.refs.items():
        if not _SHA.match(sha) or not ref.startswith("refs/"):
            raise SnapshotError(f"invalid ref {ref!r} -> {sha!r}")
    commands = "".join(f"create {ref} {sha}\n" for ref, sha in sorted(snapshot.refs.items()))
    if commands:
        run_git(path, "update-ref", "--stdin", input=commands.encode())
    (path / "HEAD").write_text(f"ref: {snapshot.head}\n")


def check_connected(path: Path) -> None:
    """Every object the refs reach is present (raises GitError naming what is missing)."""
    run_git(path, "fsck", "--connectivity-only", "--no-dangling", "--no-progress")


def start_restored_repo(path: Path) -> GitRepo:
    """The hub's own bare repository (its settings and hooks), empty, for a restore to fill."""
    return GitRepo.init_bare(path)
