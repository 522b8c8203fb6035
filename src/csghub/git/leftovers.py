"""What a killed git process leaves in a bare repository, and its removal.

git removes these itself when it exits normally; after `kill -9` (or a power cut) they stay forever:
receive-pack's quarantine of a push in flight (`objects/tmp_objdir-incoming-*`, `incoming-*` in older
gits), half-written packs and loose objects, and lock files that make every later ref update fail.
A leftover counts as abandoned when nothing in it changed for `older_than` seconds (a live git writes
to what it owns continuously), or always when `older_than` is None: at start, when no git is running.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

_PATTERNS = (
    "objects/tmp_objdir-incoming-*",
    "objects/incoming-*",
    "objects/tmp_*",
    "objects/??/tmp_*",
    "objects/pack/tmp_*",
    "objects/pack/.tmp-*",
    "objects/info/*.lock",
    "objects/pack/*.lock",
    "*.lock",
    "refs/**/*.lock",
)


@dataclass(frozen=True, slots=True)
class Removed:
    paths: int = 0
    bytes: int = 0

    def __add__(self, other: Removed) -> Removed:
        return Removed(self.paths + other.paths, self.bytes + other.bytes)


def _size_and_mtime(path: Path) -> tuple[int, float]:
    """Total size and newest modification time of a file or of everything under a folder."""
    stat = path.lstat()
    if not path.is_dir() or path.is_symlink():
        return stat.st_size, stat.st_mtime
    size, newest = 0, stat.st_mtime
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                inner = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            size += inner.st_size if name in files else 0
            newest = max(newest, inner.st_mtime)
    return size, newest


def remove_stale(paths: list[Path], older_than: float | None) -> Removed:
    """Remove each path (file or folder) untouched for `older_than` seconds (None: unconditionally)."""
    removed = Removed()
    now = time.time()
    for path in paths:
        try:
            size, mtime = _size_and_mtime(path)
        except FileNotFoundError:
            continue
        if older_than is not None and now - mtime < older_than:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed += Removed(1, size)
    return removed


def leftovers(repo_path: Path) -> list[Path]:
    """Temporary files, quarantines and lock files of dead git processes (or of live ones)."""
    found: dict[Path, None] = {}
    for pattern in _PATTERNS:
        for path in repo_path.glob(pattern):
            found.setdefault(path, None)
    return list(found)


def remove_leftovers(repo_path: Path, older_than: float | None) -> Removed:
    return remove_stale(leftovers(repo_path), older_than)
