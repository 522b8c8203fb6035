"""Taking a backup of a serving hub: refs, then the database, then the objects both name.

The order is what makes an online backup consistent:
1. each repository's refs, read under its write lock (a push's LFS and Xet rows are committed before its
   refs move, and the after-write step runs under the same lock, so every object a snapshotted ref can
   reach is named by a row that is already committed);
2. the database, as one snapshot taken after all the refs (so it holds those rows);
3. the git object files (immutable; listed until stable, git/snapshots.py), and the refs written into the
   archive's repository, which git refuses unless their objects are there; then a connectivity check;
4. the blobs the snapshot's rows name (LFS objects, xorbs), read through the blob store and hashed against
   their names: rows are deleted before their bytes (gc), so a blob gone by now belonged to a deleted row.
A repository created after step 1 is kept empty (its row says so once restored: restore reconciles it).
Everything is written into a hidden folder beside the destination, flushed, and renamed at the end.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

import csghub
from csghub.core.errors import Conflict
from csghub.db import dumps
from csghub.db.models import LfsObject, MirrorCacheObject, Repo, RepoLfsUpload, XetXorb
from csghub.git import snapshots, write_lock
from csghub.services.backup.copies import ArchiveWriter, flush_to_disk, remove_partial
from csghub.services.backup.manifest import Manifest, read_manifest, write_manifest
from csghub.services.context import Hub
from csghub.services.repositories.repos import WRITE_WAIT_S
from csghub.storage.base import blob_key

log = logging.getLogger(__name__)
SSH_HOST_KEY = "ssh_host_ed25519_key"
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BlobsNamed:
    required: set[str]  # plain LFS objects and xorbs: their rows promise the bytes
    optional: set[str]  # upload proofs and cached objects: kept when storage still has them


def _engine(hub: Hub) -> Engine:
    bind = hub.sessions.kw["bind"]
    assert isinstance(bind, Engine)
    return bind


def _snapshot_refs(hub: Hub, progress: Progress) -> dict[int, snapshots.RefSnapshot]:
    with hub.db() as session:
        ids = list(session.scalars(select(Repo.id).order_by(Repo.id)))
    found = {}
    for repo_id in ids:
        path = hub.repo_path(repo_id)
        if not path.is_dir():
            continue
        with write_lock.hold(path, WRITE_WAIT_S):  # held for one `for-each-ref`: writers barely wait
            found[repo_id] = snapshots.read_refs(path)
    progress(f"refs of {len(found)} repositories")
    return found


def _blobs_named(conn: Connection) -> BlobsNamed:
    required = set(conn.scalars(select(LfsObject.oid).where(LfsObject.xet_hash.is_(None))))
    required |= set(conn.scalars(select(XetXorb.blob_oid)))
    optional = set(conn.scalars(select(LfsObject.oid).where(LfsObject.xet_hash.is_not(None))))
    optional |= set(conn.scalars(select(RepoLfsUpload.oid))) | set(conn.scalars(select(MirrorCacheObject.oid)))
    return BlobsNamed(required, optional - required)


def _copy_repo(hub: Hub, writer: ArchiveWriter, repo_id: int, snapshot: snapshots.RefSnapshot, copy: bool) -> None:
    rel = f"repos/{repo_id}.git"
    archive_repo = writer.root / rel
    snapshots.make_archive_repo(archive_repo)
    source = hub.repo_path(repo_id)

    def copy_object(name: str) -> None:
        writer.add_file(f"{rel}/objects/{name}", source / "objects" / name)

    if copy:
        snapshots.copy_object_files(source, copy_object)
    snapshots.write_refs(archive_repo, snapshot)
    snapshots.check_connected(archive_repo)
    for name in ("HEAD", "config"):
        writer.add_written(f"{rel}/{name}")
    writer.add_tree(f"{rel}/refs")


def _copy_blobs(hub: Hub, writer: ArchiveWriter, named: BlobsNamed, workers: int) -> list[str]:
    absent: list[str] = []

    def copy(oid: str) -> None:
        rel = f"blobs/{blob_key(oid)}"
        if writer.link_previous(rel) is not None:
            return
        size = hub.blobs.stat(oid)
        if size is None:
            if oid in named.required:  # an optional one (an Xet file's sha256) is often not a blob at all
                absent.append(oid)
                log.warning("object %s is named by a row but no longer stored (deleted meanwhile?)", oid)
            return
        local = hub.blobs.local_path(oid)
        if local is not None:  # the local store: a file of this machine, copied by the kernel
            writer.add_file(rel, local, from_previous=False, sha256=oid)
        else:
            writer.add_stream(rel, hub.blobs.read(oid), sha256=oid, size=size)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(copy, sorted(named.required | named.optional)))
    return sorted(absent)


def _copy_settings(hub: Hub, writer: ArchiveWriter, config_file: Path | None) -> None:
    # The key that seals spaces' secrets and mirror tokens: without it a restore cannot unseal them.
    writer.add_bytes("settings/secret_key", hub.settings.secret_key.encode())
    host_key = hub.settings.data_dir / SSH_HOST_KEY
    if host_key.is_file():  # clients would otherwise see the hub's SSH host key change
        writer.add_file(f"settings/{SSH_HOST_KEY}", host_key, from_previous=False)
    if config_file is not None:
        writer.add_file("settings/csghub.toml", config_file, from_previous=False)


def create_backup(
    hub: Hub,
    dest: Path,
    *,
    previous: Path | None = None,
    config_file: Path | None = None,
    progress: Progress = lambda _: None,
    workers: int = 4,
) -> Manifest:
    """Write a backup archive at `dest` (which must not exist); returns its manifest."""
    dest = dest.resolve()
    if dest.exists():
        raise Conflict(f"{dest} already exists; a backup is written to a new folder")
    before = read_manifest(previous) if previous is not None else None
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.parent / f".{dest.name}.partial-{secrets.token_hex(4)}"
    partial.mkdir()
    try:
        writer = ArchiveWriter(partial, previous.resolve() if previous else None, before.by_path() if before else None)
        refs = _snapshot_refs(hub, progress)
        with dumps.consistent_snapshot(_engine(hub), partial) as conn:
            revision = dumps.schema_revision(conn)
            tables = dumps.dump_database(conn, partial / "database")
            handed_out = dumps.handed_out_ids(conn)
            repos = {row.id: row.default_branch for row in conn.execute(select(Repo.id, Repo.default_branch))}
            named = _blobs_named(conn)
            dialect = conn.dialect.name
        writer.add_tree("database")
        progress(f"database: {sum(tables.values())} rows in {len(tables)} tables")
        for repo_id, branch in sorted(repos.items()):
            # A repository created after its refs were read is kept empty, as the snapshot knew it.
            snapshot = refs.get(repo_id) or snapshots.RefSnapshot(f"refs/heads/{branch}", {})
            _copy_repo(hub, writer, repo_id, snapshot, copy=repo_id in refs)
        progress(f"git: {len(repos)} repositories")
        absent = _copy_blobs(hub, writer, named, workers)
        progress(f"blobs: {sum(1 for f in writer.entries if f.startswith('blobs/'))} objects")
        _copy_settings(hub, writer, config_file)
        manifest = Manifest(
            hub_version=csghub.__version__,
            schema_revision=revision,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            database_dialect=dialect,
            tables=tables,
            handed_out=handed_out,
            repos={str(i): {"head": s.head, "refs": s.refs} for i, s in sorted(_repo_refs(repos, refs).items())},
            files=sorted(writer.entries.values(), key=lambda f: f.path),
            incremental_from=str(previous.resolve()) if previous else "",
            absent_blobs=absent,
            stats=dict(writer.stats),
        )
        write_manifest(partial, manifest)
        flush_to_disk(partial)
        partial.rename(dest)
    except BaseException:
        remove_partial(partial)
        raise
    return manifest


def _repo_refs(repos: dict[int, str], refs: dict[int, snapshots.RefSnapshot]) -> dict[int, snapshots.RefSnapshot]:
    return {i: refs.get(i) or snapshots.RefSnapshot(f"refs/heads/{b}", {}) for i, b in repos.items()}
