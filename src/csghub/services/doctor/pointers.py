"""LFS pointers in git against the database: every pointer a repository's history holds names an object
the hub recorded (an `lfs_objects` row, whose bytes lfs_objects.py checks) and linked to that
repository, so that its readers can download it. A database restored from an older backup, or a
repository directory copied in by hand, shows up here.

Mirrors are left out: they bring their objects from their source after their refs (and the pull-through
cache only when asked), so a pointer without its object is how they work, not damage. Nothing here is
repaired: a link is what proves the repository's writers held the bytes, and doctor cannot prove that.
"""

from __future__ import annotations

from sqlalchemy import select

from csghub.core.errors import GitError
from csghub.db.models import LfsObject, Mirror, RepoLfsObject
from csghub.git import checks
from csghub.git.repository import GitRepo
from csghub.services.context import Hub
from csghub.services.doctor.findings import Problem, Report
from csghub.services.doctor.options import DoctorOptions

CHECK = "lfs"


def check_pointers(hub: Hub, options: DoctorOptions, report: Report, repo_names: dict[int, str]) -> None:
    with hub.db() as session:
        mirrors = set(session.scalars(select(Mirror.repo_id)))
    for repo_id, name in sorted(repo_names.items()):
        path = hub.repo_path(repo_id)
        if repo_id in mirrors or not path.is_dir():
            continue
        try:
            pointers = GitRepo(path).lfs_pointers_between(checks.readable_tips(path), [])
        except GitError:
            continue  # history with missing objects: fsck named them
        if not pointers:
            continue
        with hub.db() as session:
            linked = set(session.scalars(select(RepoLfsObject.oid).where(RepoLfsObject.repo_id == repo_id)))
            oids = {pointer.oid for _, pointer in pointers}
            recorded = set(session.scalars(select(LfsObject.oid).where(LfsObject.oid.in_(oids))))
        seen: set[str] = set()
        for file_path, pointer in pointers:
            report.count("lfs pointers")
            if pointer.oid in linked or pointer.oid in seen:
                continue
            seen.add(pointer.oid)
            if pointer.oid in recorded:
                kind, what = "unlinked", "is stored but not linked to the repository, so its readers cannot download it"
            else:
                kind, what = "unrecorded", "is not recorded in the database (its bytes are unknown to the hub)"
            report.add(
                Problem(
                    CHECK,
                    kind,
                    pointer.oid,
                    f"{name}: {file_path} points at LFS object {pointer.oid} ({pointer.size} bytes), which {what}",
                    repo=name,
                    unfixable="push or upload the file again" if options.repair else "",
                )
            )
