"""`csghub admin cluster|tier|framework ...`: the compute clusters, their resource tiers and the runtime
frameworks, for site administrators at the hub's own terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from csghub.core.errors import HubError
from csghub.services.permissions import Actor

cluster = typer.Typer(no_args_is_help=True, help="Compute clusters: the local one, and Ray clusters by address.")
tier = typer.Typer(no_args_is_help=True, help="Resource tiers users choose for their instances.")
framework = typer.Typer(no_args_is_help=True, help="Runtime frameworks: the package sets compute work runs in.")
# Whoever runs these commands on the hub's machine administers it.
CONSOLE = Actor(user_id=0, name="console", is_admin=True)
DataDir = typer.Option(None, "--data-dir", help="Where repositories, blobs and the database live.")
ConfigFile = typer.Option(None, "--config", help="A csghub.toml file.")


def _hub(data_dir: Path | None, config: Path | None) -> Any:
    from csghub.cli.main import _hub as open_hub
    from csghub.services.compute import frameworks

    hub = open_hub(data_dir, config)
    # As a starting hub does: the built-in frameworks' records follow this release's package sets, so a
    # build before the first `csghub serve` builds what the hub will use, not the first migration's set.
    frameworks.sync_built(hub)
    return hub


def _fail(exc: HubError) -> None:
    typer.echo(f"error: {exc.message}", err=True)
    raise typer.Exit(1) from None


@cluster.command("add")
def cluster_add(
    name: str,
    address: str = typer.Option(
        ..., "--address", help="Its GCS host:port or dashboard http://host:port (on its head), or ray://host:port."
    ),
    region: str = typer.Option("", "--region", help="What users see as its region (default: the name)."),
    data_dir: Path | None = DataDir,
    config: Path | None = ConfigFile,
) -> None:
    """Register a Ray cluster."""
    from csghub.services.compute import clusters

    try:
        found = clusters.add_cluster(_hub(data_dir, config), CONSOLE, name, kind="ray", address=address, region=region)
    except HubError as exc:
        _fail(exc)
    typer.echo(f"added cluster {found.name} (id {found.id}) at {found.address}", err=True)


@cluster.command("list")
def cluster_list(data_dir: Path | None = DataDir, config: Path | None = ConfigFile) -> None:
    """Clusters, one a line: id, name, kind, region, address, enabled."""
    from csghub.services.compute import clusters

    for found in clusters.list_clusters(_hub(data_dir, config), CONSOLE):
        state = "enabled" if found.enabled else "disabled"
        typer.echo(f"{found.id}\t{found.name}\t{found.kind}\t{found.region}\t{found.address or '-'}\t{state}")


@tier.command("add")
def tier_add(
    cluster_name: str = typer.Argument(..., metavar="CLUSTER", help="The cluster's name or id."),
    name: str = typer.Argument(...),
    cpus: float = typer.Option(..., "--cpus"),
    memory_mb: int = typer.Option(..., "--memory-mb"),
    gpus: int = typer.Option(0, "--gpus"),
    gpu_type: str = typer.Option("", "--gpu-type"),
    data_dir: Path | None = DataDir,
    config: Path | None = ConfigFile,
) -> None:
    """Add a resource tier to a cluster."""
    from csghub.services.compute import clusters

    hub = _hub(data_dir, config)
    try:
        target = clusters.find_cluster(hub, cluster_name)
        found = clusters.add_tier(
            hub, CONSOLE, target.id, name, cpus=cpus, memory_mb=memory_mb, gpus=gpus, gpu_type=gpu_type
        )
    except HubError as exc:
        _fail(exc)
    typer.echo(f"added tier {found.name} (id {found.id}) to cluster {target.name}", err=True)


@tier.command("list")
def tier_list(
    cluster_name: str = typer.Option(None, "--cluster", help="Only this cluster's (name or id)."),
    data_dir: Path | None = DataDir,
    config: Path | None = ConfigFile,
) -> None:
    """Tiers, one a line: id, cluster id, name, CPUs, memory MB, GPUs, GPU type."""
    from csghub.services.compute import clusters

    hub = _hub(data_dir, config)
    try:
        cluster_id = clusters.find_cluster(hub, cluster_name).id if cluster_name else None
    except HubError as exc:
        _fail(exc)
    for found in clusters.list_tiers(hub, CONSOLE, cluster_id):
        gpu = f"{found.gpus}\t{found.gpu_type or '-'}"
        typer.echo(f"{found.id}\t{found.cluster_id}\t{found.name}\t{found.cpus:g}\t{found.memory_mb}\t{gpu}")


@framework.command("list")
def framework_list(data_dir: Path | None = DataDir, config: Path | None = ConfigFile) -> None:
    """Frameworks, one a line: id, name, version, engine, state (and why it failed)."""
    from csghub.services.compute import frameworks

    for found in frameworks.list_frameworks(_hub(data_dir, config), CONSOLE):
        gpu = " (GPU)" if found.needs_gpu else ""
        reason = f"\t{found.reason.splitlines()[-1]}" if found.reason else ""
        typer.echo(f"{found.id}\t{found.name}\t{found.version}\t{found.engine}{gpu}\t{found.state}{reason}")


@framework.command("add")
def framework_add(
    name: str,
    version: str = typer.Option("1", "--version"),
    engine: str = typer.Option(..., "--engine", help="Whose launcher serves it: transformers, embeddings or vllm."),
    task: list[str] = typer.Option(..., "--task", help="A pipeline tag it serves (repeat)."),
    package: list[str] = typer.Option(..., "--package", help="A pip requirement (repeat)."),
    gpu: bool = typer.Option(False, "--gpu", help="It needs a GPU tier."),
    data_dir: Path | None = DataDir,
    config: Path | None = ConfigFile,
) -> None:
    """Add a package set of your own (built the first time something needs it)."""
    from csghub.services.compute import frameworks

    try:
        found = frameworks.add_framework(
            _hub(data_dir, config),
            CONSOLE,
            name,
            version=version,
            engine=engine,
            tasks=tuple(task),
            packages=tuple(package),
            needs_gpu=gpu,
        )
    except HubError as exc:
        _fail(exc)
    typer.echo(f"added framework {found.name} {found.version} (id {found.id})", err=True)


@framework.command("build")
def framework_build(name: str, data_dir: Path | None = DataDir, config: Path | None = ConfigFile) -> None:
    """Build (or check) a framework's environment here, pip's output on the terminal."""
    from csghub.services.compute import frameworks

    hub = _hub(data_dir, config)
    try:
        found = frameworks.build_now(hub, CONSOLE, frameworks.find_framework(hub, name).id)
    except HubError as exc:
        _fail(exc)
    typer.echo(f"{found.name} {found.version} is {found.state}", err=True)


def _enable(name: str, enabled: bool, data_dir: Path | None, config: Path | None) -> None:
    from csghub.services.compute import frameworks

    hub = _hub(data_dir, config)
    try:
        found = frameworks.set_enabled(hub, CONSOLE, frameworks.find_framework(hub, name).id, enabled)
    except HubError as exc:
        _fail(exc)
    typer.echo(f"{found.name} {found.version} is {'enabled' if enabled else 'disabled'}", err=True)


@framework.command("disable")
def framework_disable(name: str, data_dir: Path | None = DataDir, config: Path | None = ConfigFile) -> None:
    """Offer it no more: new endpoints, and starts of stopped ones, are refused; running ones keep serving."""
    _enable(name, False, data_dir, config)


@framework.command("enable")
def framework_enable(name: str, data_dir: Path | None = DataDir, config: Path | None = ConfigFile) -> None:
    _enable(name, True, data_dir, config)
