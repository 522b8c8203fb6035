"""Inference endpoints: creating one from a model the actor can read, its views, start, stop, rolling
update and delete. What runs is the supervisor's job (supervisor.py); these functions change the record
(endpoint_records.py) and, for stop and delete, end its processes before answering."""

from __future__ import annotations

import dataclasses
import json

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from csghub.core.errors import Conflict, NotFound
from csghub.core.names import RepoId
from csghub.db.models import ComputeInstance, ComputeReplica, Namespace, RuntimeFramework, utcnow
from csghub.services.compute import instances, scaling
from csghub.services.compute.endpoint_records import (
    KIND,
    MAX_REPLICAS,
    EndpointSpec,
    EndpointView,
    check_free,
    check_spec,
    choose,
    model_ids,
    resolve_model,
    view_of,
    visible_row,
)
from csghub.services.compute.frameworks import framework_view, gpus_available, request_build
from csghub.services.compute.instances import EventView
from csghub.services.compute.replicas import ReplicaView, read_replica_log, stop_replicas
from csghub.services.compute.routes import Route, mark_replica_failed, route_for
from csghub.services.compute.usage import endpoint_metrics, record_usage
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, EndpointResource, authorize, can, require_account

# The gateway's and the API's whole interface (design.md), also what lives in sibling modules.
__all__ = [
    "MAX_REPLICAS",
    "EndpointSpec",
    "EndpointView",
    "EventView",
    "ReplicaView",
    "Route",
    "check_spec",
    "create_endpoint",
    "delete_endpoint",
    "endpoint_events",
    "endpoint_metrics",
    "find_endpoint",
    "get_endpoint",
    "list_endpoints",
    "mark_replica_failed",
    "read_replica_log",
    "record_usage",
    "route_for",
    "start_endpoint",
    "stop_endpoint",
    "update_endpoint",
]


def create_endpoint(hub: Hub, actor: Actor, model: RepoId, spec: EndpointSpec) -> EndpointView:
    require_account(actor, "create an endpoint")
    check_spec(spec)
    owner = spec.owner or actor.name
    authorize(actor, Action.MANAGE, EndpointResource(owner, spec.visibility, f"{owner}/{spec.name}"))
    repo_id, revision, commit, facts, base = resolve_model(hub, actor, model, spec.revision)
    gpus = gpus_available(hub)
    try:
        with hub.db() as session:
            namespace = session.scalar(select(Namespace).where(Namespace.name_key == owner.lower()))
            if namespace is None:
                raise NotFound(f"Namespace '{owner}' not found")
            check_free(session, namespace.id, spec.name)
            cluster_id, tier_id, framework_id = choose(session, spec, facts, gpus)
            row = ComputeInstance(
                kind=KIND,
                namespace_id=namespace.id,
                name=spec.name,
                name_key=spec.name.lower(),
                created_by=actor.user_id,
                repo_id=repo_id,
                revision=revision,
                commit=commit,
                cluster_id=cluster_id,
                tier_id=tier_id,
                framework_id=framework_id,
                min_replicas=spec.min_replicas,
                max_replicas=spec.max_replicas,
                visibility=spec.visibility,
                spec=json.dumps(
                    {"model": str(model), "engine_args": dict(spec.engine_args), "env": dict(spec.env), **base}
                ),
                desired="running",
                state=instances.PENDING,
            )
            session.add(row)
            session.flush()
            instances.add_event(session, row.id, f"created by {actor.name} from {model}@{commit[:12]}")
            return view_of(session, row)
    except IntegrityError:
        raise Conflict(f"You already have an endpoint named '{spec.name}'", code="EndpointExists") from None


def get_endpoint(hub: Hub, actor: Actor, endpoint_id: int) -> EndpointView:
    with hub.db() as session:
        return view_of(session, visible_row(session, actor, endpoint_id))


def find_endpoint(hub: Hub, actor: Actor, owner: str, name: str) -> EndpointView:
    with hub.db() as session:
        row = instances.find_row(session, KIND, owner, name)
        if row is None or not can(actor, Action.READ, instances.resource_of(row)):
            raise NotFound(f"Endpoint not found: {owner}/{name}", code="EndpointNotFound")
        return view_of(session, row)


def list_endpoints(
    hub: Hub, actor: Actor, *, owner: str | None = None, model: RepoId | None = None
) -> list[EndpointView]:
    """The endpoints `actor` may see, newest first, of one owner and/or one model."""
    with hub.db() as session:
        stmt = select(ComputeInstance).where(ComputeInstance.kind == KIND)
        if owner is not None:
            stmt = stmt.join(Namespace, ComputeInstance.namespace_id == Namespace.id).where(
                Namespace.name_key == owner.lower()
            )
        if model is not None:
            repo_ids = model_ids(session, model)
            stmt = stmt.where(ComputeInstance.repo_id.in_(repo_ids))
        rows = session.scalars(stmt.order_by(ComputeInstance.id.desc()).limit(1000)).all()
        return [view_of(session, r) for r in rows if can(actor, Action.READ, instances.resource_of(r))]


def update_endpoint(hub: Hub, actor: Actor, endpoint_id: int, spec: EndpointSpec) -> EndpointView:
    """Change an endpoint; what changes the processes (model revision, tier, framework, arguments) starts a
    new generation of replicas, which replace the old ones once healthy (a rolling update)."""
    check_spec(spec)
    with hub.db() as session:
        row = visible_row(session, actor, endpoint_id, Action.MANAGE)
        model = RepoId.parse(json.loads(row.spec or "{}").get("model", ""))
        owner_id = row.namespace_id
    _, revision, commit, facts, base = resolve_model(hub, actor, model, spec.revision or None)
    gpus = gpus_available(hub)
    with hub.db() as session:
        row = visible_row(session, actor, endpoint_id, Action.MANAGE)
        check_free(session, owner_id, spec.name, other_than=row.id)
        cluster_id, tier_id, framework_id = choose(
            session,
            dataclasses.replace(spec, cluster_id=spec.cluster_id or row.cluster_id),
            facts,
            gpus,
        )
        if cluster_id != row.cluster_id and session.scalar(
            select(ComputeReplica.id).where(ComputeReplica.instance_id == row.id).limit(1)
        ):
            # Its replicas are stopped, health-checked and re-adopted through the cluster on its record.
            raise Conflict("Stop the endpoint before moving it to another cluster: its replicas run on this one")
        old_spec = json.loads(row.spec or "{}")
        old_spec.pop("previous", None)
        new_spec: dict[str, object] = {
            "model": str(model),
            "engine_args": dict(spec.engine_args),
            "env": dict(spec.env),
            **base,
        }
        rolling = (commit, cluster_id, tier_id, framework_id, new_spec) != (
            row.commit,
            row.cluster_id,
            row.tier_id,
            row.framework_id,
            old_spec,
        )
        if rolling:  # what the serving replicas run, for the supervisor to roll back to if the new ones fail
            new_spec["previous"] = {
                "generation": row.generation,
                "revision": row.revision,
                "commit": row.commit,
                "cluster_id": row.cluster_id,
                "tier_id": row.tier_id,
                "framework_id": row.framework_id,
                "spec": old_spec,
            }
        row.name, row.name_key, row.visibility = spec.name, spec.name.lower(), spec.visibility
        row.revision, row.commit, row.spec = revision, commit, json.dumps(new_spec)
        row.cluster_id, row.tier_id, row.framework_id = cluster_id, tier_id, framework_id
        row.min_replicas, row.max_replicas, row.updated_at = spec.min_replicas, spec.max_replicas, utcnow()
        if rolling:
            row.generation += 1
            instances.add_event(session, row.id, f"updated by {actor.name}: rolling out generation {row.generation}")
            if row.desired == "running":
                row.state, row.reason = instances.PENDING, ""
        else:
            instances.add_event(session, row.id, f"updated by {actor.name}")
        session.flush()
        hub.compute.routes.clear()
        return view_of(session, row)


def start_endpoint(hub: Hub, actor: Actor, endpoint_id: int) -> EndpointView:
    """Run a stopped or failed endpoint again (from pending; a failed framework build is tried again)."""
    with hub.db() as session:
        row = visible_row(session, actor, endpoint_id, Action.MANAGE)
        if row.desired == "running" and row.state not in (instances.STOPPED, instances.FAILED):
            return view_of(session, row)
        row.desired = "running"
        for replica in session.scalars(select(ComputeReplica).where(ComputeReplica.instance_id == row.id)):
            session.delete(replica)
        instances.move(session, row, instances.PENDING, f"started by {actor.name}")
        found = session.get(RuntimeFramework, row.framework_id)
        assert found is not None  # a foreign key
        framework = framework_view(found)
    if framework.state == "failed":
        request_build(hub, framework.id)
    return get_endpoint(hub, actor, endpoint_id)


def stop_endpoint(hub: Hub, actor: Actor, endpoint_id: int) -> EndpointView:
    with hub.db() as session:
        # Recorded first: a supervisor in another process (the lock below is this process's) then restarts
        # none of the replicas this stop is ending.
        visible_row(session, actor, endpoint_id, Action.MANAGE).desired = "stopped"
    with hub.compute.lock(endpoint_id):
        stop_replicas(hub, endpoint_id)
        scaling.forget(hub, endpoint_id)
        with hub.db() as session:
            row = visible_row(session, actor, endpoint_id, Action.MANAGE)
            row.desired = "stopped"
            instances.move(session, row, instances.STOPPED, f"stopped by {actor.name}")
            hub.compute.routes.clear()
            return view_of(session, row)


def delete_endpoint(hub: Hub, actor: Actor, endpoint_id: int) -> None:
    with hub.db() as session:
        # Recorded first, as a stop does: a supervisor in another process starts no replica meanwhile.
        visible_row(session, actor, endpoint_id, Action.MANAGE).desired = "stopped"
    with hub.compute.lock(endpoint_id):
        stop_replicas(hub, endpoint_id, forget=True)
        with hub.db() as session:
            row = visible_row(session, actor, endpoint_id, Action.MANAGE)
            session.delete(row)
        hub.compute.routes.clear()
        hub.compute.latencies.pop(endpoint_id, None)
        scaling.forget(hub, endpoint_id)


def endpoint_events(hub: Hub, actor: Actor, endpoint_id: int, *, after: int = 0) -> list[EventView]:
    with hub.db() as session:
        visible_row(session, actor, endpoint_id)
        return instances.events_of(session, endpoint_id, after=after)
