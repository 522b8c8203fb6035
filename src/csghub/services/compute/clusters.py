"""Compute clusters and their resource tiers: the local cluster always exists, administrators register
Ray clusters by address and the tiers users choose from; and the runner that runs work on each."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from csghub.core.errors import Conflict, InvalidArgument, NotFound
from csghub.core.names import validate_name
from csghub.db.models import ComputeCluster, ComputeTier
from csghub.runtime.base import Resources, Runner
from csghub.runtime.ray import parse_address
from csghub.services.context import Hub
from csghub.services.permissions import SITE, Action, Actor, authorize

CLUSTER_KINDS = ("local", "ray")
LOCAL_CLUSTER_ID = 1  # seeded by migration 0010, never removed


@dataclass(frozen=True, slots=True)
class ClusterView:
    id: int
    name: str
    kind: str  # "local" | "ray"
    address: str
    region: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class TierView:
    id: int
    cluster_id: int
    name: str
    cpus: float
    memory_mb: int
    gpus: int
    gpu_type: str
    enabled: bool

    @property
    def resources(self) -> Resources:
        return Resources(cpus=self.cpus, memory_mb=self.memory_mb, gpus=self.gpus, gpu_type=self.gpu_type)


def cluster_view(row: ComputeCluster) -> ClusterView:
    return ClusterView(row.id, row.name, row.kind, row.address, row.region, row.enabled)


def tier_view(row: ComputeTier) -> TierView:
    return TierView(row.id, row.cluster_id, row.name, row.cpus, row.memory_mb, row.gpus, row.gpu_type, row.enabled)


def list_clusters(hub: Hub, actor: Actor) -> list[ClusterView]:
    """Enabled clusters for everyone (the creation form's "region"); all of them for site admins."""
    with hub.db() as session:
        rows = session.scalars(select(ComputeCluster).order_by(ComputeCluster.id)).all()
        return [cluster_view(r) for r in rows if r.enabled or actor.is_admin]


def list_tiers(hub: Hub, actor: Actor, cluster_id: int | None = None) -> list[TierView]:
    with hub.db() as session:
        stmt = select(ComputeTier).join(ComputeCluster, ComputeTier.cluster_id == ComputeCluster.id)
        if cluster_id is not None:
            stmt = stmt.where(ComputeTier.cluster_id == cluster_id)
        if not actor.is_admin:
            stmt = stmt.where(ComputeTier.enabled.is_(True), ComputeCluster.enabled.is_(True))
        rows = session.scalars(stmt.order_by(ComputeTier.cluster_id, ComputeTier.id)).all()
        return [tier_view(r) for r in rows]


def get_cluster(hub: Hub, cluster_id: int) -> ClusterView:
    with hub.db() as session:
        row = session.get(ComputeCluster, cluster_id)
        if row is None:
            raise NotFound(f"Cluster #{cluster_id} does not exist", code="ClusterNotFound")
        return cluster_view(row)


def find_cluster(hub: Hub, name_or_id: str) -> ClusterView:
    with hub.db() as session:
        row = session.scalar(select(ComputeCluster).where(ComputeCluster.name == name_or_id))
        if row is None and name_or_id.isdigit():
            row = session.get(ComputeCluster, int(name_or_id))
        if row is None:
            raise NotFound(f"Cluster '{name_or_id}' does not exist", code="ClusterNotFound")
        return cluster_view(row)


def add_cluster(hub: Hub, actor: Actor, name: str, *, kind: str, address: str = "", region: str = "") -> ClusterView:
    authorize(actor, Action.MANAGE, SITE)
    validate_name(name, what="cluster name")
    if kind != "ray":
        raise InvalidArgument(
            f"Invalid cluster kind '{kind}': only 'ray' clusters are registered (local always exists)"
        )
    if not address.startswith(("http://", "https://", "ray://")):
        raise InvalidArgument(
            f"Invalid address '{address}': give the Ray dashboard's http://host:port (a cluster whose head runs"
            " on this machine) or its Ray Client address ray://host:port"
        )
    parse_address(address)  # runtime/ray.py's own check: a host and a port
    try:
        with hub.db() as session:
            row = ComputeCluster(name=name, kind=kind, address=address.rstrip("/"), region=region or name)
            session.add(row)
            session.flush()
            return cluster_view(row)
    except IntegrityError:
        raise Conflict(f"A cluster named '{name}' already exists") from None


def add_tier(
    hub: Hub,
    actor: Actor,
    cluster_id: int,
    name: str,
    *,
    cpus: float,
    memory_mb: int,
    gpus: int = 0,
    gpu_type: str = "",
) -> TierView:
    authorize(actor, Action.MANAGE, SITE)
    validate_name(name, what="tier name")
    if not 0 < cpus <= 1024 or not 64 <= memory_mb <= 16 * 1024 * 1024 or not 0 <= gpus <= 64:
        raise InvalidArgument("A tier needs 0 < cpus <= 1024, 64 <= memory_mb and 0 <= gpus <= 64")
    if gpus and not gpu_type:
        raise InvalidArgument("A GPU tier names its GPU type (e.g. A10)")
    get_cluster(hub, cluster_id)
    try:
        with hub.db() as session:
            row = ComputeTier(
                cluster_id=cluster_id, name=name, cpus=cpus, memory_mb=memory_mb, gpus=gpus, gpu_type=gpu_type
            )
            session.add(row)
            session.flush()
            return tier_view(row)
    except IntegrityError:
        raise Conflict(f"The cluster already has a tier named '{name}'") from None


def get_tier(hub: Hub, tier_id: int) -> TierView:
    with hub.db() as session:
        row = session.get(ComputeTier, tier_id)
        if row is None:
            raise NotFound(f"Tier #{tier_id} does not exist", code="TierNotFound")
        return tier_view(row)


def runner_for(hub: Hub, cluster_id: int) -> Runner:
    """The cluster's runner, made on first use (a Ray cluster's connection is opened only when needed)."""
    with hub.compute.guard:
        runner = hub.compute.runners.get(cluster_id)
    if runner is not None:
        return runner
    cluster = get_cluster(hub, cluster_id)
    return hub.compute.runner(cluster_id, cluster.kind, cluster.address)


def known_runners(hub: Hub) -> dict[int, Runner]:
    with hub.compute.guard:
        return dict(hub.compute.runners)
