"""Garbage collection of Xet storage: files and xorbs nothing references any more.

A file lives while an LFS object is stored as it or a repository uploaded it; a xorb lives while a
live file uses it. Objects younger than the grace period are kept whatever their references, so an
upload whose shard or commit has not arrived yet never loses its xorbs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select

from csghub.db.models import LfsObject, XetDedupChunk, XetFile, XetRepoFile, XetXorb, utcnow
from csghub.services.context import Hub
from csghub.services.xet.store import unpack_term_xorbs

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Collected:
    files: int
    xorbs: int
    bytes: int


def collect_garbage(hub: Hub) -> Collected:
    cutoff = utcnow() - timedelta(seconds=hub.settings.xet_gc_grace)
    with hub.db() as session:
        referenced = set(session.scalars(select(LfsObject.xet_hash).where(LfsObject.xet_hash.is_not(None))))
        referenced |= set(session.scalars(select(XetRepoFile.file_hash)))
        dead_files = [
            name
            for name in session.scalars(select(XetFile.hash).where(XetFile.created_at < cutoff))
            if name not in referenced
        ]
        if dead_files:
            session.execute(delete(XetDedupChunk).where(XetDedupChunk.file_hash.in_(dead_files)))
            session.execute(delete(XetFile).where(XetFile.hash.in_(dead_files)))
        live_xorbs: set[str] = set()
        for terms in session.scalars(select(XetFile.terms)):
            live_xorbs |= unpack_term_xorbs(terms)
        dead_xorbs = [
            (name, oid, size)
            for name, oid, size in session.execute(
                select(XetXorb.hash, XetXorb.blob_oid, XetXorb.serialized_size).where(XetXorb.created_at < cutoff)
            )
            if name not in live_xorbs
        ]
        if dead_xorbs:
            names = [name for name, _, _ in dead_xorbs]
            session.execute(delete(XetDedupChunk).where(XetDedupChunk.xorb_hash.in_(names)))
            session.execute(delete(XetXorb).where(XetXorb.hash.in_(names)))
    # Rows go first, bytes after: a crash in between leaves unreachable bytes, never dangling rows.
    for _, oid, _ in dead_xorbs:
        hub.blobs.delete(oid)
    collected = Collected(len(dead_files), len(dead_xorbs), sum(size for _, _, size in dead_xorbs))
    if collected.xorbs or collected.files:
        log.info("xet gc removed %d files and %d xorbs (%d bytes)", collected.files, collected.xorbs, collected.bytes)
    return collected
