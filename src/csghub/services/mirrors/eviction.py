"""Keeping the pull-through cache of a source under its `cache_max_bytes`.

When the objects the cache fetched from a source (MirrorCacheObject) add up to more than the cap, the
least recently used go: their bytes, their rows, and the cache-mode repositories' links to them, until the
rest fit. An evicted object is fetched again when next asked for. An object that any other repository
references (a pushed one, one a scheduled mirror holds) is never evicted.
"""

from __future__ import annotations

import logging

from sqlalchemy import and_, delete, exists, func, select
from sqlalchemy.orm import Session

from csghub.db.models import LfsObject, Mirror, MirrorCacheObject, MirrorSource, RepoLfsObject, RepoLfsUpload
from csghub.services.context import Hub

log = logging.getLogger(__name__)


def enforce(hub: Hub, source_id: int, *, keep: str = "") -> list[str]:
    """Evict until the source's cache fits its cap; `keep` (the object just fetched) stays. Returns the
    evicted oids."""
    with hub.compute.eviction_lock, hub.db() as session:
        cap = session.scalar(select(MirrorSource.cache_max_bytes).where(MirrorSource.id == source_id)) or 0
        if cap <= 0:
            return []
        total = (
            session.scalar(select(func.sum(MirrorCacheObject.size)).where(MirrorCacheObject.source_id == source_id))
            or 0
        )
        if total <= cap:
            return []
        evicted: list[str] = []
        candidates = session.execute(
            select(MirrorCacheObject.oid, MirrorCacheObject.size)
            .where(MirrorCacheObject.source_id == source_id, MirrorCacheObject.oid != keep)
            .order_by(MirrorCacheObject.last_used_at, MirrorCacheObject.oid)
        ).all()
        for oid, size in candidates:
            if total <= cap:
                break
            if _held_elsewhere(session, oid):
                continue
            _forget(session, oid)
            evicted.append(oid)
            total -= size
    for oid in evicted:  # the rows went first: nothing hands out a link to bytes about to go
        hub.blobs.delete(oid)
    if evicted:
        log.info(
            "pull-through cache of source %s: evicted %d objects to stay under %d bytes", source_id, len(evicted), cap
        )
    return evicted


def _held_elsewhere(session: Session, oid: str) -> bool:
    """Whether a repository other than the cache's own references the object (or is uploading it)."""
    cache_repo = exists().where(and_(Mirror.repo_id == RepoLfsObject.repo_id, Mirror.mode == "cache"))
    linked = session.scalar(select(func.count()).where(RepoLfsObject.oid == oid, ~cache_repo))
    uploading = session.scalar(select(func.count()).select_from(RepoLfsUpload).where(RepoLfsUpload.oid == oid))
    return bool(linked) or bool(uploading)


def _forget(session: Session, oid: str) -> None:
    session.execute(delete(RepoLfsObject).where(RepoLfsObject.oid == oid))
    session.execute(delete(MirrorCacheObject).where(MirrorCacheObject.oid == oid))
    session.execute(delete(LfsObject).where(LfsObject.oid == oid, LfsObject.xet_hash.is_(None)))
