"""An endpoint's record: what a request may ask for (EndpointSpec, checked), the cluster, tier and
framework it gets, the model it serves, and how the record reads (EndpointView). The actions on it are
in endpoints.py."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict, InvalidArgument, NotFound
from csghub.core.names import RepoId, RepoType
from csghub.db.models import ComputeCluster, ComputeInstance, ComputeTier, Namespace, Repo, RuntimeFramework
from csghub.services.compute import instances
from csghub.services.compute.clusters import LOCAL_CLUSTER_ID, ClusterView, TierView, cluster_view, tier_view
from csghub.services.compute.frameworks import FrameworkView, ModelFacts, facts_of_model, fits, framework_view
from csghub.services.compute.replicas import ReplicaView, replica_views
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize
from csghub.services.repositories import files
from csghub.services.repositories.repos import get_repo

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


def choose(session: Session, spec: EndpointSpec, model: ModelFacts, gpus: bool) -> tuple[int, int, int]:
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


def row_of(session: Session, endpoint_id: int) -> ComputeInstance | None:
    row = session.get(ComputeInstance, endpoint_id)
    return row if row is not None and row.kind == KIND else None


def visible_row(session: Session, actor: Actor, endpoint_id: int, action: Action = Action.READ) -> ComputeInstance:
    row = row_of(session, endpoint_id)
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


def resolve_model(
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


def check_free(session: Session, namespace_id: int, name: str, *, other_than: int | None = None) -> None:
    taken = session.scalar(
        select(ComputeInstance.id).where(
            ComputeInstance.kind == KIND,
            ComputeInstance.namespace_id == namespace_id,
            ComputeInstance.name_key == name.lower(),
        )
    )
    if taken is not None and taken != other_than:
        raise Conflict(f"An endpoint named '{name}' already exists", code="EndpointExists")


def model_ids(session: Session, model: RepoId) -> list[int]:
    return list(
        session.scalars(
            select(Repo.id)
            .join(Namespace, Repo.namespace_id == Namespace.id)
            .where(
                Repo.type == "model", Namespace.name_key == model.namespace.lower(), Repo.name_key == model.name.lower()
            )
        )
    )
