"""The resource console's view of compute: every instance of any kind (endpoints now; fine-tunes,
notebooks and spaces later) in the namespaces an actor manages, with where it runs, for how long, and
what it has served. It reads the generic instance record only, so a new kind appears here unchanged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.db.models import (
    ComputeCluster,
    ComputeInstance,
    ComputeReplica,
    ComputeTier,
    Namespace,
    utcnow,
)
from csghub.services.compute import instances
from csghub.services.compute.usage import usage_totals
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, can, require_account

LIMIT = 500  # instances shown; far more than a person runs


@dataclass(frozen=True, slots=True)
class InstanceUsage:
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True, slots=True)
class InstanceSummary:
    id: int
    kind: str  # "endpoint" | "finetune" | "notebook" | "space" | ...
    owner: str
    name: str
    source: str  # what it runs: "ns/name" of its repository, if any
    state: str
    reason: str
    cluster: str
    region: str
    tier: str
    visibility: str
    replicas_ready: int
    replicas_desired: int
    running_since: datetime | None  # the oldest healthy replica's start while it runs
    created_at: datetime
    usage: InstanceUsage

    @property
    def uptime_seconds(self) -> int:
        if self.running_since is None:
            return 0
        return max(0, int((utcnow() - self.running_since).total_seconds()))


def list_owned_instances(hub: Hub, actor: Actor) -> list[InstanceSummary]:
    """The instances of the actor's own namespace and of the organizations they administer (a site
    administrator's console too lists only what they own), newest first."""
    require_account(actor, "see your resources")
    owned = {actor.name.lower(), *(org for org, role in actor.org_roles.items() if role == "admin")}
    with hub.db() as session:
        rows = session.scalars(
            select(ComputeInstance)
            .join(Namespace, ComputeInstance.namespace_id == Namespace.id)
            .where(Namespace.name_key.in_(owned))
            .order_by(ComputeInstance.id.desc())
            .limit(LIMIT)
        ).all()
        # The service's own rule still decides (a token's narrower scope, a role changed since).
        return [_summary(hub, session, r) for r in rows if can(actor, Action.MANAGE, instances.resource_of(r))]


def _summary(hub: Hub, session: Session, row: ComputeInstance) -> InstanceSummary:
    cluster = session.get(ComputeCluster, row.cluster_id)
    tier = session.get(ComputeTier, row.tier_id)
    replicas = session.scalars(select(ComputeReplica).where(ComputeReplica.instance_id == row.id)).all()
    healthy = [r for r in replicas if r.state == "healthy"]
    starts = [r.started_at for r in healthy if r.started_at is not None]
    running = row.state == instances.RUNNING and starts
    return InstanceSummary(
        id=row.id,
        kind=row.kind,
        owner=row.namespace.name,
        name=row.name,
        source=str(json.loads(row.spec or "{}").get("model", "")),
        state=row.state,
        reason=row.reason,
        cluster=cluster.name if cluster is not None else "",
        region=cluster.region if cluster is not None else "",
        tier=tier.name if tier is not None else "",
        visibility=row.visibility,
        replicas_ready=len(healthy),
        # Autoscaling moves the size between min and max; the supervisor knows the current one.
        replicas_desired=hub.compute.sizes.get(row.id, row.min_replicas) if row.desired == "running" else 0,
        running_since=min(starts) if running else None,
        created_at=row.created_at,
        usage=_usage(session, row.id),
    )


def _usage(session: Session, instance_id: int) -> InstanceUsage:
    return InstanceUsage(*(int(v) for v in usage_totals(session, instance_id)[:4]))
