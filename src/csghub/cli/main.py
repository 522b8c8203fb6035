"""The `csghub` command: serve, migrate, admin commands, and the git hook entry point."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer

from csghub.cli import backup as backup_cli
from csghub.cli import compute as compute_cli
from csghub.cli import finetune as finetune_cli
from csghub.cli import mirror as mirror_cli
from csghub.config import ConfigError, Settings, load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="CSGHub: a self-hosted hub for LLM assets.")
admin = typer.Typer(no_args_is_help=True, help="Administrative commands (users, organizations, tokens).")
app.add_typer(admin, name="admin")
admin.add_typer(compute_cli.cluster, name="cluster")
admin.add_typer(compute_cli.tier, name="tier")
admin.add_typer(compute_cli.framework, name="framework")
app.add_typer(finetune_cli.finetune, name="finetune")
app.add_typer(mirror_cli.mirror, name="mirror")
app.command("backup")(backup_cli.backup)
app.command("restore")(backup_cli.restore)


def _settings(data_dir: Path | None, config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(os.environ, config, {"data_dir": data_dir, **overrides})
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


DataDir = typer.Option(None, "--data-dir", help="Where repositories, blobs and the database live.")
ConfigFile = typer.Option(None, "--config", help="A csghub.toml file.")


@app.command()
def serve(
    host: str = typer.Option(None, "--host", help="Address to bind (default 127.0.0.1)."),
    ssh_port: int = typer.Option(None, "--ssh-port", help="Port of the git SSH server (default 2222; 0 free; -1 off)."),
    port: int = typer.Option(None, "--port", help="Port to listen on (default 8080; 0 picks a free one)."),
    data_dir: Path | None = DataDir,
    config: Path | None = ConfigFile,
) -> None:
    """Start the hub: apply migrations, then serve the API, git and LFS over HTTP."""
    import uvicorn

    from csghub.app import create_app
    from csghub.cli.ports import PortUnavailable, bind_http, check_free
    from csghub.core import logs
    from csghub.services.repositories.writes import recover

    settings = _settings(data_dir, config, host=host, port=port if port else None, ssh_port=ssh_port)
    logs.configure(settings.log_level, settings.log_libraries)
    try:
        sock = bind_http(settings.host, 0 if port == 0 else settings.port)
        if settings.ssh_port > 0:
            check_free(settings.host, settings.ssh_port)
    except PortUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    bound = sock.getsockname()[1]
    try:
        application = create_app(settings, http_port=bound)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    # Nothing is live yet: reconcile the database with the refs and drop what killed writers left.
    recover(application.state.hub)
    typer.echo(f"CSGHub listening on http://{settings.host}:{bound} (data in {settings.data_dir})", err=True)
    _announce_first_admin(application.state.hub, f"http://{settings.host}:{bound}")
    from csghub.http.connections import bounded_protocol

    server_config = uvicorn.Config(
        application,
        log_level=settings.log_level,
        log_config=None,  # the hub's own handler (core/logs.py): its lines name the request
        timeout_keep_alive=30,
        http=bounded_protocol(max_header_bytes=settings.max_header_bytes, header_timeout=settings.client_timeout),
        access_log=False,  # the hub's access log (http/observe.py) names the user, the route and the request id
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
    )
    logs.configure(settings.log_level, settings.log_libraries)  # again: uvicorn's Config set its loggers' levels
    server = uvicorn.Server(server_config)
    server.run(sockets=[sock])


def _announce_first_admin(hub: Any, url: str) -> None:
    """With no accounts yet, print a one-time way to create the first administrator."""
    from csghub.services.identity import accounts

    token = accounts.ensure_setup_token(hub)
    if token is None:
        return
    body = json.dumps({"token": token, "username": "root", "password": "<choose a password>"})
    typer.echo(
        "No administrator yet. Create the first one (this one-time link works once):\n"
        f"  open {url}/setup?token={token}\n"
        f"  or: curl -X POST {url}/api/v1/auth/setup -H 'Content-Type: application/json' -d '{body}'\n"
        "  or: csghub admin create-user NAME --admin --password PASSWORD",
        err=True,
    )


@app.command()
def migrate(data_dir: Path | None = DataDir, config: Path | None = ConfigFile) -> None:
    """Apply database migrations and exit."""
    from csghub.wiring import build_hub

    build_hub(_settings(data_dir, config))
    typer.echo("database is up to date", err=True)


def _hub(data_dir: Path | None, config: Path | None):  # type: ignore[no-untyped-def]
    """The hub `serve` runs on (same settings); refuses rather than creating an empty one."""
    from csghub.cli.data_dirs import checkout_data_dir, locate_data_dir
    from csghub.wiring import build_hub

    fallback = checkout_data_dir()
    try:
        settings = locate_data_dir(_settings(data_dir, config), [fallback] if fallback else [])
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    return build_hub(settings)


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1) from None


@admin.command("create-user")
def create_user(
    name: str,
    email: str = typer.Option("", "--email"),
    password: str = typer.Option("", "--password"),
    is_admin: bool = typer.Option(False, "--admin", help="Make the user a site administrator."),
    data_dir: Path | None = DataDir,
    config: Path | None = ConfigFile,
) -> None:
    """Create a user account."""
    from csghub.core.errors import HubError
    from csghub.services.identity import accounts

    try:
        accounts.create_user(_hub(data_dir, config), name, email=email, password=password, is_admin=is_admin)
    except HubError as exc:
        _fail(exc)
    typer.echo(f"created user {name}", err=True)


@admin.command("create-org")
def create_org(
    name: str,
    owner: str = typer.Option(..., "--owner", help="The user who administers the organization."),
    data_dir: Path | None = DataDir,
    config: Path | None = ConfigFile,
) -> None:
    """Create an organization owned by a user."""
    from csghub.core.errors import HubError
    from csghub.services.identity import orgs

    try:
        orgs.create_org(_hub(data_dir, config), name, owner=owner)
    except HubError as exc:
        _fail(exc)
    typer.echo(f"created organization {name}", err=True)


@admin.command("create-token")
def create_token(
    user: str,
    name: str = typer.Option("default", "--name"),
    scope: str = typer.Option("write", "--scope", help="read or write"),
    expires_in_days: int = typer.Option(None, "--expires-in-days", help="Days until the token expires."),
    data_dir: Path | None = DataDir,
    config: Path | None = ConfigFile,
) -> None:
    """Create an access token for a user; prints only the token on stdout."""
    from csghub.core.errors import HubError
    from csghub.services.identity import tokens

    try:
        token, _ = tokens.create_token(
            _hub(data_dir, config), user, name=name, scope=scope, expires_in_days=expires_in_days
        )
    except HubError as exc:
        _fail(exc)
    typer.echo(token)


@admin.command("gc")
def gc(data_dir: Path | None = DataDir, config: Path | None = ConfigFile) -> None:
    """Free Xet chunks no repository references any more (older than the grace period)."""
    from csghub.services.xet.gc import collect_garbage

    done = collect_garbage(_hub(data_dir, config))
    typer.echo(f"removed {done.files} files and {done.xorbs} xorbs ({done.bytes} bytes)", err=True)


@app.command()
def doctor(
    repair: bool = typer.Option(False, "--repair", help="Fix what is safe to fix (never deletes referenced data)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    quick: bool = typer.Option(False, "--quick", help="Cheaper checks: connectivity-only fsck, sizes not hashes."),
    data_dir: Path | None = DataDir,
    config: Path | None = ConfigFile,
) -> None:
    """Check repositories, refs, LFS and Xet objects, temp files and settings; exit 0 healthy, 1 problems
    found, 2 could not check. Read-only unless --repair."""
    from csghub.cli import doctor as doctor_cli

    raise typer.Exit(doctor_cli.run(_settings(data_dir, config), repair=repair, as_json=as_json, quick=quick))


@app.command("hook", hidden=True)
def hook(name: str) -> None:
    """Entry point of the git hooks installed in every repository (run by git, not by people)."""
    from csghub.cli.hooks import run_hook

    sys.exit(run_hook(name, os.environ, sys.stdin.read()))


def main() -> None:
    app()
