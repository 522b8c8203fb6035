"""Bringing a backup back onto a fresh hub: whatever database and blob store the target's settings name.

The archive is verified first (every file re-hashed) and nothing is written if it is damaged. Then: the
settings files (the secret key first, so the hub built next uses it), the database at the backup's own
schema revision, its rows, the migrations up to this hub's head, the repositories, the blobs through the
target's blob store (which hashes them once more), and last the hub's own start-up recovery, which
brings each repository's row in step with its refs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy.engine import Engine

from csghub.config import Settings
from csghub.core.errors import Conflict, InvalidArgument
from csghub.db import dumps
from csghub.db.engine import make_engine, migrate
from csghub.git import snapshots
from csghub.services.backup.create import SSH_HOST_KEY
from csghub.services.backup.manifest import BackupInvalid, Manifest, verify_archive
from csghub.services.context import Hub
from csghub.services.repositories.writes import recover
from csghub.storage.base import iter_file

Progress = Callable[[str], None]
# What a hub keeps in its data folder; a forced restore removes these and nothing else.
_HUB_ENTRIES = (
    "repos",
    "blobs",
    "tmp",
    "compute",
    "finetune",
    "datasets",
    "mirrors",
    "csghub.db",
    "csghub.db-wal",
    "csghub.db-shm",
    "secret_key",
    SSH_HOST_KEY,
    "csghub.toml.restored",
)


def verified(archive: Path) -> Manifest:
    """The archive's manifest once every file re-hashes to it; BackupInvalid listing what does not."""
    manifest, problems = verify_archive(archive)
    if problems:
        shown = "\n  ".join(problems[:20])
        raise BackupInvalid(f"The backup at {archive} is damaged ({len(problems)} problems):\n  {shown}")
    return manifest


def _sqlite_in_data_dir(settings: Settings) -> bool:
    return not settings.database_url


def prepare_target(settings: Settings, *, force: bool) -> None:
    """Refuse a data folder or database that holds anything, unless forced: then empty them."""
    data = settings.data_dir
    found = sorted(p.name for p in data.iterdir()) if data.is_dir() else []
    engine = None if _sqlite_in_data_dir(settings) else make_engine(settings.effective_database_url)
    try:
        tables = engine is not None and dumps.holds_data(engine)
        if (found or tables) and not force:
            what = f"{data} holds {', '.join(found[:5])}" if found else "the target database has tables"
            raise Conflict(f"The restore target is not empty ({what}); restore onto a fresh one, or pass --force")
        if force:
            for name in _HUB_ENTRIES:
                path = data / name
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
            if engine is not None and tables:
                dumps.drop_everything(engine)
    finally:
        if engine is not None:
            engine.dispose()


def place_settings(archive: Path, settings: Settings) -> list[str]:
    """Put the backup's secret key (and SSH host key) into the data folder; returns warnings."""
    warnings = []
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = (archive / "settings" / "secret_key").read_text().strip()
    if settings.secret_key and settings.secret_key != key:
        warnings.append(
            "the target's settings name another secret_key: spaces' secrets and mirror tokens of the backup "
            "will not unseal until secret_key is the backup's (settings/secret_key in the archive)"
        )
    _write_private(settings.data_dir / "secret_key", key.encode())
    host_key = archive / "settings" / SSH_HOST_KEY
    if host_key.is_file():
        _write_private(settings.data_dir / SSH_HOST_KEY, host_key.read_bytes())
    config = archive / "settings" / "csghub.toml"
    if config.is_file():  # for the administrator to compare; the target's own settings stay in force
        _write_private(settings.data_dir / "csghub.toml.restored", config.read_bytes())
        warnings.append(f"the backup's config file is at {settings.data_dir / 'csghub.toml.restored'}")
    return warnings


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _restore_database(engine: Engine, archive: Path, manifest: Manifest) -> dict[str, int]:
    if not manifest.schema_revision:
        raise InvalidArgument("The backup names no schema revision")
    try:
        migrate(engine, manifest.schema_revision)
    except Exception as exc:  # alembic: a revision this hub does not know
        raise InvalidArgument(
            f"This hub cannot build schema revision {manifest.schema_revision!r} of the backup "
            f"(taken by csghub {manifest.hub_version}); restore it with that version or newer: {exc}"
        ) from None
    counts = dumps.load_database(engine, archive / "database", manifest.handed_out)
    migrate(engine)
    return counts


def _restore_repos(hub: Hub, archive: Path, manifest: Manifest) -> None:
    by_repo: dict[str, list[str]] = {}
    for entry in manifest.files:
        if entry.path.startswith("repos/") and "/objects/" in entry.path:
            by_repo.setdefault(entry.path.split("/")[1], []).append(entry.path)
    for repo_id, info in manifest.repos.items():
        path = hub.repo_path(int(repo_id))
        snapshots.start_restored_repo(path)
        prefix = f"repos/{repo_id}.git/objects/"
        for rel in by_repo.get(f"{repo_id}.git", []):
            target = path / "objects" / rel[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(archive / rel, target)
        snapshots.write_refs(path, snapshots.RefSnapshot(info["head"], dict(info["refs"])))


def _restore_blobs(hub: Hub, archive: Path, manifest: Manifest, workers: int) -> int:
    entries = [e for e in manifest.files if e.path.startswith("blobs/")]

    def put(path: str, size: int, oid: str) -> None:
        with open(archive / path, "rb") as fh:
            hub.blobs.put(oid, size, iter_file(fh))  # the store hashes the bytes once more

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda e: put(e.path, e.size, e.path.rsplit("/", 1)[1]), entries))
    return len(entries)


def restore_backup(hub: Hub, archive: Path, manifest: Manifest, *, progress: Progress, workers: int = 4) -> None:
    """Fill the (empty) hub from a verified archive; see the module's docstring for the order."""
    bind = hub.sessions.kw["bind"]
    assert isinstance(bind, Engine)
    counts = _restore_database(bind, archive, manifest)
    progress(f"database: {sum(counts.values())} rows in {len(counts)} tables, migrated to head")
    _restore_repos(hub, archive, manifest)
    progress(f"git: {len(manifest.repos)} repositories")
    blobs = _restore_blobs(hub, archive, manifest, workers)
    progress(f"blobs: {blobs} objects")
    recover(hub)
