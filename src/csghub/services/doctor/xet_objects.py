"""Xet storage: every xorb row's serialized bytes are in the blob store, hash (sha256) to the blob they
are stored as, and decode to chunks whose Xet merkle hash is the xorb's name and whose table matches
the recorded one; every file row's terms name stored xorbs and its Xet file hash matches their chunks.

Missing and corrupt are told apart. --repair drops rows of xorbs whose bytes are gone and of files
that cannot be rebuilt, only when nothing live uses them (a file a repository or an LFS object names,
a xorb such a file's terms name); bytes are never deleted.
"""

from __future__ import annotations

import hashlib
import io
import struct
from collections import OrderedDict, defaultdict
from collections.abc import Iterator

from sqlalchemy import delete, select

from csghub.core.errors import BlobNotFound, InvalidArgument
from csghub.db.models import LfsObject, RepoLfsObject, XetDedupChunk, XetFile, XetRepoFile, XetXorb
from csghub.services.context import Hub
from csghub.services.doctor.findings import Problem, Report
from csghub.services.doctor.options import DoctorOptions
from csghub.services.xet.store import unpack_term_xorbs
from csghub.xet.hashes import file_hash, from_hex, to_hex
from csghub.xet.xorbs import parse_xorb_stream

CHECK = "xet"
_CHUNK = struct.Struct("<III32s")  # the xorb chunk table's packing (services/xet/store.py)
_TERM = struct.Struct("<32sIII")


class _ChunksReader(io.RawIOBase):
    """A read-only file over a blob-store stream, so the xorb parser reads one chunk record at a time."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _users(hub: Hub, repo_names: dict[int, str]) -> dict[str, set[str]]:
    """Xet file hash -> the repositories that use it (through an LFS object or an upload of theirs)."""
    users: dict[str, set[str]] = defaultdict(set)
    with hub.db() as session:
        for repo_id, name in session.execute(select(XetRepoFile.repo_id, XetRepoFile.file_hash)):
            users[name].add(repo_names.get(repo_id, f"#{repo_id}"))
        query = select(RepoLfsObject.repo_id, LfsObject.xet_hash).join(LfsObject, LfsObject.oid == RepoLfsObject.oid)
        for repo_id, kept_as in session.execute(query.where(LfsObject.xet_hash.is_not(None))):
            users[kept_as or ""].add(repo_names.get(repo_id, f"#{repo_id}"))
        # An LFS object kept as a file keeps it live even when no repository links the object (yet).
        for kept_as in session.scalars(select(LfsObject.xet_hash).where(LfsObject.xet_hash.is_not(None))):
            users.setdefault(kept_as or "", set())
    return users


def _xorb_damage(
    hub: Hub, name: str, blob_oid: str, size: int, tables: _ChunkTables, quick: bool
) -> tuple[str, str] | None:
    stored = hub.blobs.stat(blob_oid)
    if stored is None:
        return "missing", f"its bytes (blob {blob_oid}) are not in the blob store"
    if stored != size:
        return "corrupt", f"its blob {blob_oid} holds {stored} bytes, {size} expected"
    if quick:
        return None
    digest = hashlib.sha256()
    try:
        with io.BufferedReader(_ChunksReader(iter(hub.blobs.read(blob_oid))), 1024 * 1024) as fh:
            parsed = parse_xorb_stream(fh, from_hex(name), sha256=digest)
    except InvalidArgument as exc:
        return "corrupt", f"its blob {blob_oid} is corrupt: {exc.message}"
    except BlobNotFound:
        return "missing", f"its blob {blob_oid} vanished while it was read"
    if digest.hexdigest() != blob_oid:
        return "corrupt", f"its blob {blob_oid} hashes to {digest.hexdigest()}"
    recorded = [(size_, chunk) for _, _, size_, chunk in _CHUNK.iter_unpack(tables.get(name) or b"")]
    if recorded != [(c.size, c.hash) for c in parsed.chunks]:
        return "corrupt", "its chunks differ from the chunk table the database recorded"
    return None


def check_xet(hub: Hub, options: DoctorOptions, report: Report, repo_names: dict[int, str]) -> None:
    users = _users(hub, repo_names)
    with hub.db() as session:
        files = list(session.execute(select(XetFile.hash, XetFile.terms)))
        # Chunk tables are read one xorb at a time (_ChunkTables): all of them at once may be gigabytes.
        xorbs = list(session.execute(select(XetXorb.hash, XetXorb.blob_oid, XetXorb.serialized_size)))
    tables = _ChunkTables(hub)
    xorb_files: dict[str, set[str]] = defaultdict(set)
    for name, terms in files:
        for xorb in unpack_term_xorbs(terms):
            xorb_files[xorb].add(name)
    for name, blob_oid, size in xorbs:
        report.count("xet xorbs")
        damage = _xorb_damage(hub, name, blob_oid, size, tables, options.quick)
        if damage is None:
            continue
        kind, what = damage
        repos = sorted(set().union(*(users.get(f, set()) for f in xorb_files.get(name, ()))))
        used = any(f in users for f in xorb_files.get(name, ()))
        where = f" (used by {', '.join(repos)})" if repos else ""
        repaired = unfixable = ""
        if options.repair:
            unfixable = "referenced data is never deleted; restore it from a backup or upload the files again"
            if kind == "missing" and not used and hub.blobs.stat(blob_oid) is None:
                _drop_xorb(hub, name)
                tables.forget(name)
                repaired, unfixable = "dropped its database row (no live file uses it and its bytes are gone)", ""
        report.add(Problem(CHECK, kind, name, f"Xet xorb {name}{where}: {what}", ", ".join(repos), repaired, unfixable))
    for name, terms in files:
        report.count("xet files")
        _check_file(hub, name, terms, tables, users.get(name), options, report)


class _ChunkTables:
    """Xorbs' recorded chunk tables, read on demand; the last few kept, since a file's terms run through
    its xorbs in order and neighbouring files share them."""

    SIZE = 64

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._kept: OrderedDict[str, bytes | None] = OrderedDict()

    def get(self, name: str) -> bytes | None:
        if name in self._kept:
            self._kept.move_to_end(name)
            return self._kept[name]
        with self._hub.db() as session:
            table = session.scalar(select(XetXorb.chunk_table).where(XetXorb.hash == name))
        self._kept[name] = table
        if len(self._kept) > self.SIZE:
            self._kept.popitem(last=False)
        return table

    def forget(self, name: str) -> None:
        self._kept[name] = None


def _check_file(
    hub: Hub,
    name: str,
    terms: bytes,
    tables: _ChunkTables,
    users: set[str] | None,
    options: DoctorOptions,
    report: Report,
) -> None:
    leaves: list[tuple[bytes, int]] = []
    missing: list[str] = []
    for raw, start, end, _ in _TERM.iter_unpack(terms):
        table = tables.get(to_hex(raw))
        if table is None:
            missing.append(to_hex(raw))
            continue
        leaves += [(chunk, size) for _, _, size, chunk in list(_CHUNK.iter_unpack(table))[start:end]]
    repos = ", ".join(sorted(users or ()))
    where = f" (used by {repos})" if repos else ""
    if missing:
        message = f"Xet file {name}{where} names xorbs that are not stored: {', '.join(sorted(set(missing)))}"
        kind = "missing"
    elif file_hash(leaves) != from_hex(name):
        message = f"Xet file {name}{where}: its chunks hash to {to_hex(file_hash(leaves))}"
        kind = "corrupt"
    else:
        return
    repaired = unfixable = ""
    if options.repair:
        unfixable = "referenced data is never deleted; restore it from a backup or upload the file again"
        if kind == "missing" and users is None:
            _drop_file(hub, name)
            repaired, unfixable = "dropped its database row (nothing uses it and it cannot be rebuilt)", ""
    report.add(Problem(CHECK, kind, name, message, repos, repaired, unfixable))


def _drop_xorb(hub: Hub, name: str) -> None:
    with hub.db() as session:
        session.execute(delete(XetDedupChunk).where(XetDedupChunk.xorb_hash == name))
        session.execute(delete(XetXorb).where(XetXorb.hash == name))


def _drop_file(hub: Hub, name: str) -> None:
    with hub.db() as session:
        session.execute(delete(XetDedupChunk).where(XetDedupChunk.file_hash == name))
        session.execute(delete(XetFile).where(XetFile.hash == name))
