"""Inference endpoints: creating one from a model the actor can read, its views, start, stop, rolling
update and delete. What runs is the supervisor's job (supervisor.py); these functions change the record
and, for stop and delete, end its processes before answering."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict, InvalidArgument, NotFound
from csghub.core.names import RepoId, RepoType
from csghub.db.models import (
    ComputeCluster,
    ComputeInstance,
    ComputeReplica,
    ComputeTier,
    Namespace,
    RuntimeFramework,
    utcnow,
)
from csghub.services.compute import instances
from csghub.services.compute.clusters import LOCAL_CLUSTER_ID, ClusterView, TierView, cluster_view, tier_view
from csghub.services.compute.frameworks import (
    FrameworkView,
    ModelFacts,
    facts_of_model,
    fits,
    framework_view,
    gpus_available,
    request_build,
)
from csghub.services.compute.instances import EventView
from csghub.services.compute.replicas import ReplicaView, read_replica_log, replica_views, stop_replicas
from csghub.services.compute.routes import Route, mark_replica_failed, route_for
from csghub.services.compute.usage import endpoint_metrics, record_usage
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, EndpointResource, authorize, can, require_account
from csghub.services.repositories import files
from csghub.services.repositories.repos import get_repo

# The gateway's and the API's whole interface (design.md), also what lives in sibling modules.
__all__ = [
    "EndpointSpec",
    "EndpointView",
    "EventView",
    "ReplicaView",
    "Route",
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

KIND = "endpoint"
MAX_REPLICAS = 5
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_ARG_RE = re.compile(r"[a-z][a-z0-9-]{0,63}")
_ENV_RE = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
# Set by the hub for every replica; an endpoint may not point them elsewhere.
_RESERVED_ARGS = frozenset({"host", "port", "device"})
_RESERVED_ENV_PREFIXES = ("HF_", "CSGHUB_", "RAY_", "PYTHON", "LD_", "PATH")


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    name: str
    revision: str | None = None
    cluster_id: int | None = None
    tier_id: int | None = None
    framework_id: int | None = None
    min_replicas: int = 1
    max_replicas: int = 1
    visibility: str = "private"  # "public" | "private"
    engine_args: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    owner: str | None = None  # an organization the actor administers; the actor's own namespace if None


@dataclass(frozen=True, slots=True)
class EndpointView:
    id: int
    owner: str
    name: str
    model: str  # "ns/name" of the model repository
    revision: str
    commit: str
    cluster: ClusterView
    tier: TierView
    framework: FrameworkView
    min_replicas: int
    max_replicas: int
    visibility: str
    engine_args: Mapping[str, str]
    state: str  # pending | building | deploying | running | stopped | failed
    reason: str
    replicas: tuple[ReplicaView, ...]
    created_at: datetime
    updated_at: datetime
    env: Mapping[str, str] = field(default_factory=dict)
    desired: str = "running"
    base_model: str = ""  # "ns/name" when `model` is an adapter served merged on it


def check_spec(spec: EndpointSpec) -> None:
    """What can be said about a spec without the database: name, replicas, visibility, arguments."""
    if not isinstance(spec.name, str) or not _NAME_RE.fullmatch(spec.name):
        raise InvalidArgument(
            f"Invalid endpoint name '{spec.name}': use 1-64 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    if not 1 <= spec.min_replicas <= spec.max_replicas <= MAX_REPLICAS:
        raise InvalidArgument(
            f"Invalid replicas: need 1 <= min_replicas <= max_replicas <= {MAX_REPLICAS} "
            f"(got {spec.min_replicas} and {spec.max_replicas})"
        )
    if spec.visibility not in ("public", "private"):
        raise InvalidArgument(f"Invalid visibility '{spec.visibility}': expected public or private")
    for key, value in spec.engine_args.items():
        if not _ARG_RE.fullmatch(key) or key in _RESERVED_ARGS:
            raise InvalidArgument(
                f"Invalid engine argument '{key}': use a flag name like 'dtype' (not host, port, device)"
            )
        _check_value(key, value)
    for key, value in spec.env.items():
        if not _ENV_RE.fullmatch(key) or key.startswith(_RESERVED_ENV_PREFIXES):
            raise InvalidArgument(f"Invalid environment variable '{key}': the hub sets HF_*, CSGHUB_*, RAY_*, PATH")
        _check_value(key, value)


def _check_value(key: str, value: object) -> None:
    if not isinstance(value, str) or len(value) > 1000 or any(ord(c) < 32 for c in value):
        raise InvalidArgument(f"Invalid value for '{key}': a single line of at most 1000 characters")


def _choose(session: Session, spec: EndpointSpec, model: ModelFacts, gpus: bool) -> tuple[int, int, int]:
    """The cluster, tier and framework ids for a spec: given ones checked, missing ones defaulted."""
    cluster = session.get(ComputeCluster, spec.cluster_id or LOCAL_CLUSTER_ID)
    if cluster is None or not cluster.enabled:
        raise InvalidArgument(f"Unknown cluster #{spec.cluster_id}")
    tiers = session.scalars(
        select(ComputeTier)
        .where(ComputeTier.cluster_id == cluster.id, ComputeTier.enabled.is_(True))
        .order_by(ComputeTier.id)
    ).all()
    candidates = [f for f in session.scalars(select(RuntimeFramework).order_by(RuntimeFramework.id)).all()]
    fitting = [framework_view(f) for f in candidates if fits(framework_view(f), model, gpus_available=gpus)]
    if spec.framework_id is None:
        if not fitting:
            raise InvalidArgument(
                f"No enabled runtime framework fits this model (its tasks: {sorted(model.tasks) or 'unknown'})"
            )
        framework = fitting[0]
    else:
        found = [f for f in candidates if f.id == spec.framework_id]
        if not found or not found[0].enabled:
            raise InvalidArgument(f"Unknown or disabled runtime framework #{spec.framework_id}")
        framework = framework_view(found[0])
        if framework.needs_gpu and not gpus:
            raise InvalidArgument(f"Runtime framework '{framework.name}' needs a GPU tier, and this hub has none")
        if framework not in fitting:
            raise InvalidArgument(
                f"Runtime framework '{framework.name}' does not fit this model "
                f"(its tasks: {sorted(model.tasks) or 'unknown'})"
            )
    usable = [t for t in tiers if (t.gpus > 0) == framework.needs_gpu]
    if spec.tier_id is None:
        if not usable:
            raise InvalidArgument(f"Cluster '{cluster.name}' has no tier for '{framework.name}'")
        tier = usable[0]
    else:
        match = [t for t in tiers if t.id == spec.tier_id]
        if not match:
            raise InvalidArgument(f"Tier #{spec.tier_id} is not an enabled tier of cluster '{cluster.name}'")
        tier = match[0]
        if tier not in usable:
            need = "a GPU" if framework.needs_gpu else "no GPU"
            raise InvalidArgument(f"Tier '{tier.name}' does not suit '{framework.name}', which needs {need} tier")
    return cluster.id, tier.id, framework.id


def _row(session: Session, endpoint_id: int) -> ComputeInstance | None:
    row = session.get(ComputeInstance, endpoint_id)
    return row if row is not None and row.kind == KIND else None


def _visible_row(session: Session, actor: Actor, endpoint_id: int, action: Action = Action.READ) -> ComputeInstance:
    row = _row(session, endpoint_id)
    if row is None:
        raise NotFound(f"Endpoint #{endpoint_id} not found", code="EndpointNotFound")
    authorize(actor, action, instances.resource_of(row))
    return row


def view_of(session: Session, row: ComputeInstance) -> EndpointView:
    cluster = session.get(ComputeCluster, row.cluster_id)
    tier = session.get(ComputeTier, row.tier_id)
    framework = session.get(RuntimeFramework, row.framework_id)
    assert cluster is not None and tier is not None and framework is not None  # foreign keys
    spec = json.loads(row.spec or "{}")
    repo = spec.get("model", "")
    return EndpointView(
        id=row.id,
        owner=row.namespace.name,
        name=row.name,
        model=repo,
        revision=row.revision,
        commit=row.commit,
        cluster=cluster_view(cluster),
        tier=tier_view(tier),
        framework=framework_view(framework),
        min_replicas=row.min_replicas,
        max_replicas=row.max_replicas,
        visibility=row.visibility,
        engine_args=dict(spec.get("engine_args", {})),
        state=row.state,
        reason=row.reason,
        replicas=replica_views(session, row),
        created_at=row.created_at,
        updated_at=row.updated_at,
        env=dict(spec.get("env", {})),
        desired=row.desired,
        base_model=str(spec.get("base_model", "")),
    )


def _resolve_model(
    hub: Hub, actor: Actor, model: RepoId, revision: str | None
) -> tuple[int, str, str, ModelFacts, dict[str, object]]:
    """The model's repository id, revision, commit and facts, and for an adapter its base model (which
    the actor must be able to download too) as spec fields."""
    repo = get_repo(hub, actor, RepoType.MODEL, model, Action.DOWNLOAD)
    snapshot = files.at_revision(hub, actor, repo, revision)
    facts = facts_of_model(hub, actor, model, snapshot.sha)
    base: dict[str, object] = {}
    if facts.base is not None:
        base_repo = get_repo(hub, actor, RepoType.MODEL, facts.base, Action.DOWNLOAD)
        base_commit = files.at_revision(hub, actor, base_repo, None).sha
        base = {"base_model": str(facts.base), "base_repo_id": base_repo.id, "base_commit": base_commit}
    return repo.id, revision or repo.default_branch, snapshot.sha, facts, base


def create_endpoint(hub: Hub, actor: Actor, model: RepoId, spec: EndpointSpec) -> EndpointView:
    require_account(actor, "create an endpoint")
    check_spec(spec)
    owner = spec.owner or actor.name
    authorize(actor, Action.MANAGE, EndpointResource(owner, spec.visibility, f"{owner}/{spec.name}"))
    repo_id, revision, commit, facts, base = _resolve_model(hub, actor, model, spec.revision)
    gpus = gpus_available(hub)
    try:
        with hub.db() as session:
            namespace = session.scalar(select(Namespace).where(Namespace.name_key == owner.lower()))
            if namespace is None:
                raise NotFound(f"Namespace '{owner}' not found")
            _check_free(session, namespace.id, spec.name)
            cluster_id, tier_id, framework_id = _choose(session, spec, facts, gpus)
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


def _check_free(session: Session, namespace_id: int, name: str, *, other_than: int | None = None) -> None:
    taken = session.scalar(
        select(ComputeInstance.id).where(
            ComputeInstance.kind == KIND,
            ComputeInstance.namespace_id == namespace_id,
            ComputeInstance.name_key == name.lower(),
        )
    )
    if taken is not None and taken != other_than:
        raise Conflict(f"An endpoint named '{name}' already exists", code="EndpointExists")


def get_endpoint(hub: Hub, actor: Actor, endpoint_id: int) -> EndpointView:
    with hub.db() as session:
        return view_of(session, _visible_row(session, actor, endpoint_id))


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
            repo_ids = _model_ids(session, model)
            stmt = stmt.where(ComputeInstance.repo_id.in_(repo_ids))
        rows = session.scalars(stmt.order_by(ComputeInstance.id.desc()).limit(1000)).all()
        return [view_of(session, r) for r in rows if can(actor, Action.READ, instances.resource_of(r))]


def _model_ids(session: Session, model: RepoId) -> list[int]:
    from csghub.db.models import Repo

    return list(
        session.scalars(
            select(Repo.id)
            .join(Namespace, Repo.namespace_id == Namespace.id)
            .where(
                Repo.type == "model", Namespace.name_key == model.namespace.lower(), Repo.name_key == model.name.lower()
            )
        )
    )


def update_endpoint(hub: Hub, actor: Actor, endpoint_id: int, spec: EndpointSpec) -> EndpointView:
    """Change an endpoint; what changes the processes (model revision, tier, framework, arguments) starts a
    new generation of replicas, which replace the old ones once healthy (a rolling update)."""
    check_spec(spec)
    with hub.db() as session:
        row = _visible_row(session, actor, endpoint_id, Action.MANAGE)
        model = RepoId.parse(json.loads(row.spec or "{}").get("model", ""))
        owner_id = row.namespace_id
    _, revision, commit, facts, base = _resolve_model(hub, actor, model, spec.revision or None)
    gpus = gpus_available(hub)
    with hub.db() as session:
        row = _visible_row(session, actor, endpoint_id, Action.MANAGE)
        _check_free(session, owner_id, spec.name, other_than=row.id)
        cluster_id, tier_id, framework_id = _choose(
            session,
            dataclasses.replace(spec, cluster_id=spec.cluster_id or row.cluster_id),
            facts,
            gpus,
        )
        old_spec = json.loads(row.spec or "{}")
        new_spec = {"model": str(model), "engine_args": dict(spec.engine_args), "env": dict(spec.env), **base}
        rolling = (commit, cluster_id, tier_id, framework_id, new_spec) != (
            row.commit,
            row.cluster_id,
            row.tier_id,
            row.framework_id,
            old_spec,
        )
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
        row = _visible_row(session, actor, endpoint_id, Action.MANAGE)
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
        _visible_row(session, actor, endpoint_id, Action.MANAGE)
    with hub.compute.lock(endpoint_id):
        stop_replicas(hub, endpoint_id)
        with hub.db() as session:
            row = _visible_row(session, actor, endpoint_id, Action.MANAGE)
            row.desired = "stopped"
            instances.move(session, row, instances.STOPPED, f"stopped by {actor.name}")
            hub.compute.routes.clear()
            return view_of(session, row)


def delete_endpoint(hub: Hub, actor: Actor, endpoint_id: int) -> None:
    with hub.db() as session:
        _visible_row(session, actor, endpoint_id, Action.MANAGE)
    with hub.compute.lock(endpoint_id):
        stop_replicas(hub, endpoint_id, forget=True)
        with hub.db() as session:
            row = _visible_row(session, actor, endpoint_id, Action.MANAGE)
            session.delete(row)
        hub.compute.routes.clear()
        hub.compute.latencies.pop(endpoint_id, None)


def endpoint_events(hub: Hub, actor: Actor, endpoint_id: int, *, after: int = 0) -> list[EventView]:
    with hub.db() as session:
        _visible_row(session, actor, endpoint_id)
        return instances.events_of(session, endpoint_id, after=after)
