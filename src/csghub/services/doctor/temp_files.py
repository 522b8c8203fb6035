"""Orphaned temp files: what the hub writes under `tmp/` (uploads, parts, spools) and what git leaves
in repositories (quarantines, temp packs, lock files) once no process owns it.

A path counts as orphaned when nothing in it changed for the hub's own cleanup age
(leftovers.STALE_AFTER_S): a live writer keeps touching what it owns, so doctor can run beside a serving
hub. --repair removes exactly those, as the hub's own cleanup does.
"""

from __future__ import annotations

import time
from pathlib import Path

from csghub.git.leftovers import leftovers as git_leftovers
from csghub.git.leftovers import remove_stale
from csghub.services.context import Hub
from csghub.services.doctor.findings import Problem, Report
from csghub.services.doctor.options import DoctorOptions
from csghub.services.repositories import leftovers

CHECK = "temp"


def _newest_change(path: Path) -> float | None:
    try:
        newest = path.lstat().st_mtime
        if path.is_dir() and not path.is_symlink():
            for inner in path.rglob("*"):
                try:
                    newest = max(newest, inner.lstat().st_mtime)
                except FileNotFoundError:
                    continue
        return newest
    except FileNotFoundError:
        return None


def stale_paths(hub: Hub, older_than: float) -> list[tuple[Path, str]]:
    """(path, owner) of every temp path untouched for `older_than` seconds; owner names the repository."""
    now = time.time()
    candidates = [(path, "") for path in leftovers.temp_paths(hub.settings.tmp_dir)]
    for repo_dir in leftovers.repo_dirs(hub):
        candidates += [(path, repo_dir.name) for path in git_leftovers(repo_dir)]
    out = []
    for path, owner in candidates:
        changed = _newest_change(path)
        if changed is not None and now - changed >= older_than:
            out.append((path, owner))
    return out


def check_temp_files(hub: Hub, options: DoctorOptions, report: Report, repo_names: dict[int, str]) -> None:
    age = leftovers.STALE_AFTER_S
    for path, owner in stale_paths(hub, age):
        stem = owner.removesuffix(".git")
        repo = repo_names.get(int(stem), "") if stem.isdigit() else ""
        inside = f" in repository {repo}" if repo else ""
        message = (
            f"orphaned temp {'folder' if path.is_dir() else 'file'} {path}{inside}, untouched for over {age:.0f} s"
        )
        repaired = ""
        if options.repair and remove_stale([path], age).paths:
            repaired = "removed"
        report.add(Problem(CHECK, "stale-temp", str(path), message, repo, repaired))
