"""The hub's side of a sync job: what goes in (the job's work folder and spec) and what comes out (the
fetched git history and LFS objects, imported into the live repository).

The import keeps a mirror whole: first every LFS object the new refs reach is stored (moved in: the job
kept a download only once its size and sha256 matched) and linked to the repository, and an object the
database records but storage lacks sends the task round again to fetch it; then, under the repository's
write lock, the git objects are fetched from the work folder and the refs set to the upstream's in one
atomic update (a ref the upstream deleted is deleted), and the write pipeline's after-ref-update step
runs, as for a push: spaces, the dataset viewer and caches follow mirrored commits too."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select

from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoType
from csghub.db.models import LfsObject, Mirror, MirrorSource
from csghub.git.lfs import LfsPointer
from csghub.git.runner import run_git
from csghub.services.context import Hub
from csghub.services.mirrors import sources
from csghub.services.mirrors.job import REFSPECS, SPEC
from csghub.services.repositories import lfs
from csghub.services.repositories.repos import get_repo_by_id
from csghub.services.repositories.writes import after_ref_update, changes_between, writing

log = logging.getLogger(__name__)
VIA_MIRROR = "mirror"  # how the change arrived, as the audit log names it


def work_dir(hub: Hub, mirror_id: int) -> Path:
    """One per mirror, kept across attempts (a restarted job resumes its `.part` files), removed on success."""
    return hub.settings.data_dir / "mirrors" / "work" / f"mirror-{mirror_id}"


REFETCH = "refetch.json"  # objects an import found recorded but absent: the next attempt downloads them


class MissingObjects(InvalidArgument):
    """Objects the database records as held are not in storage; the task is tried again, fetching them."""


def _held(hub: Hub, work: Path) -> list[tuple[str, int]]:
    """The LFS objects this hub holds: the job downloads none of them again (but those found absent)."""
    try:
        absent = set(json.loads((work / REFETCH).read_text()))
    except (FileNotFoundError, ValueError):
        absent = set()
    with hub.db() as session:
        rows = session.execute(select(LfsObject.oid, LfsObject.size))
        return [(oid, size) for oid, size in rows if oid not in absent]


def prepare(hub: Hub, mirror_id: int, bandwidth_share: int) -> tuple[Path, dict[str, str]]:
    """Write the work folder's spec and its borrowing bare repository; returns it with the job's environment."""
    with hub.db() as session:
        mirror = session.get(Mirror, mirror_id)
        source = session.get(MirrorSource, mirror.source_id) if mirror is not None else None
        if mirror is None or source is None:
            raise InvalidArgument(f"Mirror {mirror_id} is gone")
        upstream_type, upstream_id, repo_id = RepoType(mirror.upstream_type), mirror.upstream_id, mirror.repo_id
        base_url, source_id, use_git = source.base_url, source.id, source.use_git
    token = sources.source_token(hub, source_id)
    work = work_dir(hub, mirror_id)
    work.mkdir(parents=True, exist_ok=True)
    for stale in ("result.json", "progress.json"):
        (work / stale).unlink(missing_ok=True)
    repo = work / "repo.git"
    if not (repo / "objects").is_dir():
        run_git(repo, "init", "--bare", "--quiet", str(repo))
    alternates = repo / "objects" / "info" / "alternates"
    alternates.parent.mkdir(parents=True, exist_ok=True)
    alternates.write_text(f"{hub.repo_path(repo_id) / 'objects'}\n")
    view = get_repo_by_id(hub, repo_id)
    settings = hub.settings
    spec: dict[str, Any] = {
        "base_url": base_url,
        "upstream_type": upstream_type.value,
        "upstream_id": upstream_id,
        "rules": {
            "allow_hosts": list(settings.outbound_allow_hosts),
            "deny_hosts": list(settings.outbound_deny_hosts),
            "allow_private": settings.outbound_allow_private,
        },
        "bandwidth_bytes_per_s": bandwidth_share,
        "use_git": use_git,
        # For a commit rebuilt from a tree listing: the branch it goes on and the head it goes on top of.
        "branch": view.default_branch,
        "local_head": hub.git(repo_id).ref_target(f"refs/heads/{view.default_branch}") or "",
        "held": _held(hub, work),
    }
    (work / SPEC).write_text(json.dumps(spec))
    env = {"CSGHUB_MIRROR_TOKEN": token} if token else {}
    return work, env


def bytes_on_disk(work: Path) -> int:
    """What the job's downloads hold so far, finished or partial (its progress in bytes)."""
    folder = work / "lfs"
    if not folder.is_dir():
        return 0
    return sum(entry.stat().st_size for entry in folder.iterdir() if entry.is_file())


def import_result(hub: Hub, mirror_id: int, work: Path, result: dict[str, Any]) -> str:
    """Store and link the objects, then move the refs; returns the default branch's new head ("" if none)."""
    with hub.db() as session:
        mirror = session.get(Mirror, mirror_id)
        if mirror is None:
            raise InvalidArgument(f"Mirror {mirror_id} is gone")
        repo_id = mirror.repo_id
    for oid, size in result["downloaded"]:
        path = work / "lfs" / oid
        if hub.blobs.stat(oid) != size:
            # The job hashed every byte as it arrived and kept only what matched (Upstream.download): moved in.
            hub.blobs.put_verified_file(oid, int(size), path)
        lfs.register_object(hub, oid, int(size))  # held from now on, whatever becomes of this import
    pointers = [LfsPointer(oid, int(size)) for oid, size in result["objects"]]
    missing = [p.oid for p in pointers if hub.blobs.stat(p.oid) != p.size and lfs.xet_hash_of(hub, p.oid) is None]
    if missing:  # never point a mirror at bytes it lacks: the next attempt downloads them
        (work / REFETCH).write_text(json.dumps(missing))
        raise MissingObjects(f"{len(missing)} LFS object(s) recorded as held are not in storage, e.g. {missing[0]}")
    lfs.link_objects(hub, repo_id, pointers)
    view = get_repo_by_id(hub, repo_id)
    git = hub.git(repo_id)
    with writing(hub, repo_id):
        before = _mirrored_refs(git.all_ref_targets())
        run_git(
            git.path,
            "fetch",
            "--atomic",
            "--prune",
            "--no-write-fetch-head",
            "--quiet",
            str(work / "repo.git"),
            *REFSPECS,
        )
        after = _mirrored_refs(git.all_ref_targets())
        changes = changes_between(before, after)
        detail = {"upstream": f"{view.type.value}:{result.get('upstream', '')}"}
        after_ref_update(hub, repo_id, None, changes, action="mirror.sync", via=VIA_MIRROR, detail=detail)
    return after.get(f"refs/heads/{view.default_branch}", "")


def _mirrored_refs(refs: dict[str, str]) -> dict[str, str]:
    """Branches and tags: what a mirror copies (the hub's own refs/convert/* are left alone)."""
    return {ref: sha for ref, sha in refs.items() if ref.startswith(("refs/heads/", "refs/tags/"))}
