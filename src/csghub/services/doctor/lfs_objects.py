"""LFS objects: every `lfs_objects` row's bytes are in the blob store and hash to the row's sha256 oid
(or, for an object kept as a Xet file, that file is registered; xet_objects.py checks its bytes).

Missing (no bytes, or fewer than recorded) and corrupt (bytes that hash to another name) are told apart.
--repair drops the row of an object whose bytes are gone only when no repository links it; bytes that
are there are never deleted, corrupt or not.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, select

from csghub.core.errors import BlobNotFound
from csghub.db.models import LfsObject, RepoLfsObject, RepoLfsUpload, XetFile
from csghub.services.context import Hub
from csghub.services.doctor.findings import Problem, Report
from csghub.services.doctor.options import DoctorOptions
from csghub.storage.base import HashingCounter

CHECK = "lfs"


def _linked_repos(hub: Hub, repo_names: dict[int, str]) -> dict[str, list[str]]:
    linked: dict[str, list[str]] = defaultdict(list)
    with hub.db() as session:
        for repo_id, oid in session.execute(select(RepoLfsObject.repo_id, RepoLfsObject.oid)):
            linked[oid].append(repo_names.get(repo_id, f"#{repo_id}"))
    return linked


def rehash(hub: Hub, oid: str) -> tuple[str, int]:
    """The sha256 and size of the stored bytes, streamed."""
    counter = HashingCounter()
    for chunk in hub.blobs.read(oid):
        counter.update(chunk)
    return counter.sha256.hexdigest(), counter.size


def _damage(hub: Hub, oid: str, size: int, quick: bool) -> tuple[str, str] | None:
    """(kind, what) when the object's bytes are missing or corrupt, else None."""
    stored = hub.blobs.stat(oid)
    if stored is None:
        return "missing", "not in the blob store"
    if stored < size:
        return "missing", f"the store holds {stored} of its {size} bytes"
    if stored > size:
        return "corrupt", f"the store holds {stored} bytes, {size} expected"
    if quick:
        return None
    try:
        digest, _ = rehash(hub, oid)
    except BlobNotFound:
        return "missing", "vanished while it was read"
    if digest != oid:
        return "corrupt", f"its bytes hash to {digest}"
    return None


def check_lfs_objects(hub: Hub, options: DoctorOptions, report: Report, repo_names: dict[int, str]) -> None:
    linked = _linked_repos(hub, repo_names)
    with hub.db() as session:
        objects = list(session.execute(select(LfsObject.oid, LfsObject.size, LfsObject.xet_hash)))
        # Xet file -> the sha256 its rebuilt bytes hashed to ("" until rebuilt once: services/xet/store.py).
        xet_files = {
            name: sha256 if verified else ""
            for name, sha256, verified in session.execute(select(XetFile.hash, XetFile.sha256, XetFile.sha256_verified))
        }
    for oid, size, xet_hash in objects:
        report.count("lfs objects")
        repos = linked.get(oid, [])
        where = f" (used by {', '.join(sorted(repos))})" if repos else " (no repository links it)"
        if xet_hash:
            verified = xet_files.get(xet_hash)
            if verified and verified != oid:
                report.add(
                    Problem(
                        CHECK,
                        "corrupt",
                        oid,
                        f"LFS object {oid}{where} is kept as Xet file {xet_hash}, whose bytes hash to {verified}",
                        repo=", ".join(sorted(repos)),
                        unfixable="restore it from a backup" if options.repair else "",
                    )
                )
            elif xet_hash not in xet_files:
                report.add(
                    Problem(
                        CHECK,
                        "missing",
                        oid,
                        f"LFS object {oid}{where} is kept as Xet file {xet_hash}, which is not registered",
                        repo=", ".join(sorted(repos)),
                        unfixable="restore it from a backup" if options.repair else "",
                    )
                )
            continue
        damage = _damage(hub, oid, size, options.quick)
        if damage is None:
            continue
        kind, what = damage
        message = f"LFS object {oid}{where}: {what}"
        repaired = unfixable = ""
        if options.repair:
            unfixable = "referenced data is never deleted; restore it from a backup or push it again"
            if kind == "missing" and not repos and hub.blobs.stat(oid) is None and _drop_row(hub, oid):
                repaired, unfixable = "dropped its database row (nothing references it and its bytes are gone)", ""
            elif kind == "corrupt":
                unfixable = "its bytes are kept; restore them from a backup or push the file again"
        report.add(Problem(CHECK, kind, oid, message, ", ".join(sorted(repos)), repaired, unfixable))


def _drop_row(hub: Hub, oid: str) -> bool:
    with hub.db() as session:
        # Checked again inside the transaction: a push may have linked it since.
        if session.scalar(select(RepoLfsObject.oid).where(RepoLfsObject.oid == oid).limit(1)) is not None:
            return False
        # Proofs that someone uploaded these bytes go too: there are no bytes left to prove.
        session.execute(delete(RepoLfsUpload).where(RepoLfsUpload.oid == oid))
        session.execute(delete(LfsObject).where(LfsObject.oid == oid))
        return True
