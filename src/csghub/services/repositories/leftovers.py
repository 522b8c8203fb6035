"""Temp space no live request owns: removed at start and after failed writes.

Uploads (LFS objects and parts, Xet xorbs and shards, commit and portal spools) are written to temp
files under the data directory's `tmp/` and renamed into place; git writes quarantines, temp packs and
lock files inside each repository. A process killed mid-write leaves them behind. At start nothing is
live, so everything goes; while serving, only what has not changed for STALE_AFTER_S seconds goes,
since a live writer keeps touching what it owns.
"""

from __future__ import annotations

import logging
from pathlib import Path

from csghub.git.leftovers import Removed, remove_leftovers, remove_stale
from csghub.services.context import Hub

log = logging.getLogger(__name__)

STALE_AFTER_S = 3600.0
# Folders under tmp/ that the blob store expects to exist; their contents are temp files.
_KEPT_FOLDERS = frozenset({"uploads"})


def temp_paths(tmp_dir: Path) -> list[Path]:
    """Every temp file or folder under tmp/, looking inside the folders that must stay."""
    if not tmp_dir.is_dir():
        return []
    out: list[Path] = []
    for path in tmp_dir.iterdir():
        if path.name in _KEPT_FOLDERS and path.is_dir():
            out.extend(path.iterdir())
        else:
            out.append(path)
    return out


def repo_dirs(hub: Hub) -> list[Path]:
    return sorted(hub.settings.repos_dir.glob("*/*.git"))


def clean_temp(hub: Hub, older_than: float | None) -> Removed:
    return remove_stale(temp_paths(hub.settings.tmp_dir), older_than)


def clean_repo(hub: Hub, repo_id: int, older_than: float | None = STALE_AFTER_S) -> Removed:
    return remove_leftovers(hub.repo_path(repo_id), older_than)


def clean_all(hub: Hub, older_than: float | None) -> Removed:
    """Temp files and every repository's git leftovers; None removes all (only when nothing runs)."""
    removed = clean_temp(hub, older_than)
    for path in repo_dirs(hub):
        removed += remove_leftovers(path, older_than)
    if removed.paths:
        log.warning("removed %d leftover temp paths (%d bytes)", removed.paths, removed.bytes)
    return removed
