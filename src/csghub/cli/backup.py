"""`csghub backup` and `csghub restore`: a verifiable archive of a hub, and its return onto a fresh one."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from csghub.config import ConfigError


def _say(message: str) -> None:
    typer.echo(message, err=True)


def backup(
    dest: Path = typer.Argument(..., help="A new folder to write the archive to (or, with --verify, an archive)."),
    incremental_from: Path | None = typer.Option(
        None, "--incremental-from", help="A previous archive: objects it holds are linked, not copied again."
    ),
    verify: bool = typer.Option(False, "--verify", help="Re-hash every file of the archive DEST and report."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Where repositories, blobs and the database live."),
    config: Path | None = typer.Option(None, "--config", help="A csghub.toml file."),
) -> None:
    """Back up the hub (it may keep serving): database, repositories, LFS and Xet objects, secret key, config."""
    from csghub.cli.main import _fail, _hub
    from csghub.core.errors import HubError
    from csghub.services.backup.create import create_backup
    from csghub.services.backup.manifest import verify_archive

    started = time.monotonic()
    try:
        if verify:
            manifest, problems = verify_archive(dest)
            for problem in problems:
                _say(f"  {problem}")
            if problems:
                _say(f"error: the backup at {dest} is damaged ({len(problems)} problems)")
                raise typer.Exit(1)
            _say(f"backup {dest} is sound: {len(manifest.files)} files re-hashed in {time.monotonic() - started:.1f} s")
            return
        hub = _hub(data_dir, config)
        manifest = create_backup(hub, dest, previous=incremental_from, config_file=config, progress=_say)
    except HubError as exc:
        _fail(exc)
        return
    stats = manifest.stats
    _say(
        f"backup written to {dest} in {time.monotonic() - started:.1f} s: {len(manifest.files)} files, "
        f"{stats['copied_bytes']} bytes copied, {stats['linked_bytes']} linked from the previous backup. "
        "It holds the hub's secret key: keep it as secret as the hub itself."
    )


def restore(
    src: Path = typer.Argument(..., help="A backup archive written by `csghub backup`."),
    force: bool = typer.Option(False, "--force", help="Restore over a data folder or database that holds data."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="The new hub's data folder."),
    config: Path | None = typer.Option(None, "--config", help="The new hub's csghub.toml (database, storage)."),
) -> None:
    """Restore a backup onto a fresh hub: the database and storage its settings name (SQLite or PostgreSQL,
    local or S3)."""
    from csghub.cli.main import _fail, _settings
    from csghub.core.errors import HubError
    from csghub.services.backup import restore as restoring
    from csghub.wiring import build_hub

    started = time.monotonic()
    settings = _settings(data_dir, config)
    try:
        manifest = restoring.verified(src)
        _say(f"backup {src} verified: {len(manifest.files)} files, schema {manifest.schema_revision}")
        restoring.prepare_target(settings, force=force)
        for warning in restoring.place_settings(src, settings):
            _say(f"warning: {warning}")
        hub = build_hub(settings, run_migrations=False)
        restoring.restore_backup(hub, src, manifest, progress=_say)
    except (HubError, ConfigError) as exc:
        _fail(exc)
        return
    _say(f"restored {src} into {settings.data_dir} in {time.monotonic() - started:.1f} s; start it with csghub serve")
