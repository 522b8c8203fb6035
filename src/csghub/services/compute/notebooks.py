"""Notebooks: a JupyterLab on a compute runtime with a model (and optionally a dataset) checked out,
reached through the hub at /notebooks/{owner}/{name}/. A notebook is a compute instance of kind
"notebook" with one replica of the `jupyterlab` framework's launcher, which the supervisor starts,
health-checks (Jupyter's /api/status) and restarts like an endpoint's; this module owns its record
(create, read, start, stop, delete) and where the hub's proxy finds it. Notebooks are private to their
owner namespace's members."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict, InvalidArgument, NotFound, ServiceUnavailable
from csghub.core.names import RepoId, RepoType
from csghub.db.models import ComputeCluster, ComputeInstance, ComputeReplica, ComputeTier, Namespace, RuntimeFramework
from csghub.services.compute import instances
from csghub.services.compute.clusters import LOCAL_CLUSTER_ID, ClusterView, TierView, cluster_view, tier_view
from csghub.services.compute.launch import notebook_dir
from csghub.services.compute.replicas import stop_replicas
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, EndpointResource, authorize, can, require_account
from csghub.services.repositories import files
from csghub.services.repositories.repos import get_repo

KIND = "notebook"
FRAMEWORK = "jupyterlab"
PREFIX = "/notebooks"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class NotebookSpec:
    name: str
    revision: str | None = None
    dataset: RepoId | None = None
    dataset_revision: str | None = None
    cluster_id: int | None = None
    tier_id: int | None = None
    owner: str | None = None  # an organization the actor administers; the actor's own namespace if None


@dataclass(frozen=True, slots=True)
class NotebookView:
    id: int
    owner: str
    name: str
    model: str
    revision: str
    commit: str
    dataset: str  # "" without one
    dataset_commit: str
    cluster: ClusterView
    tier: TierView
    state: str  # pending | building | deploying | running | stopped | failed
    reason: str
    desired: str
    path: str  # its address on the hub, "/notebooks/{owner}/{name}/"
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NotebookRoute:
    url: str  # the replica's base URL, "http://127.0.0.1:PORT"
    base_url: str  # Jupyter's base URL on it (the path it was started with)


def notebook_path(owner: str, name: str) -> str:
    return f"{PREFIX}/{owner}/{name}/"


def create_notebook(hub: Hub, actor: Actor, model: RepoId, spec: NotebookSpec) -> NotebookView:
    require_account(actor, "start a notebook")
    if not isinstance(spec.name, str) or not _NAME_RE.fullmatch(spec.name):
        raise InvalidArgument(f"Invalid notebook name '{spec.name}': 1-64 letters, digits, '-' or '_'")
    owner = spec.owner or actor.name
    authorize(actor, Action.MANAGE, EndpointResource(owner, "private", f"{owner}/{spec.name}"))
    repo = get_repo(hub, actor, RepoType.MODEL, model, Action.DOWNLOAD)
    commit = files.at_revision(hub, actor, repo, spec.revision).sha
    fields: dict[str, object] = {"model": str(model)}
    if spec.dataset is not None:
        data = get_repo(hub, actor, RepoType.DATASET, spec.dataset, Action.DOWNLOAD)
        data_commit = files.at_revision(hub, actor, data, spec.dataset_revision).sha
        fields |= {"dataset": str(spec.dataset), "dataset_repo_id": data.id, "dataset_commit": data_commit}
    try:
        with hub.db() as session:
            namespace = session.scalar(select(Namespace).where(Namespace.name_key == owner.lower()))
            if namespace is None:
                raise NotFound(f"Namespace '{owner}' not found")
            if instances.find_row(session, KIND, owner, spec.name) is not None:
                raise Conflict(f"A notebook named '{spec.name}' already exists", code="NotebookExists")
            cluster_id, tier_id, framework_id = _choose(session, spec)
            row = ComputeInstance(
                kind=KIND,
                namespace_id=namespace.id,
                name=spec.name,
                name_key=spec.name.lower(),
                created_by=actor.user_id,
                repo_id=repo.id,
                revision=spec.revision or repo.default_branch,
                commit=commit,
                cluster_id=cluster_id,
                tier_id=tier_id,
                framework_id=framework_id,
                min_replicas=1,
                max_replicas=1,
                visibility="private",
                spec=json.dumps({**fields, "base_url": notebook_path(namespace.name, spec.name)}),
                desired="running",
                state=instances.PENDING,
            )
            session.add(row)
            session.flush()
            instances.add_event(session, row.id, f"created by {actor.name} with {model}@{commit[:12]}")
            return _view(session, row)
    except IntegrityError:
        raise Conflict(f"A notebook named '{spec.name}' already exists", code="NotebookExists") from None


def _choose(session: Session, spec: NotebookSpec) -> tuple[int, int, int]:
    """The cluster, the tier (the first CPU tier unless one is given) and the jupyterlab framework."""
    cluster = session.get(ComputeCluster, spec.cluster_id or LOCAL_CLUSTER_ID)
    if cluster is None or not cluster.enabled:
        raise InvalidArgument(f"Unknown cluster #{spec.cluster_id}")
    framework = session.scalar(
        select(RuntimeFramework).where(RuntimeFramework.name == FRAMEWORK).order_by(RuntimeFramework.id.desc())
    )
    if framework is None or not framework.enabled:
        raise InvalidArgument(f"The '{FRAMEWORK}' runtime framework is not enabled on this hub")
    tiers = session.scalars(
        select(ComputeTier)
        .where(ComputeTier.cluster_id == cluster.id, ComputeTier.enabled.is_(True))
        .order_by(ComputeTier.gpus, ComputeTier.id)
    ).all()
    if spec.tier_id is None:
        if not tiers:
            raise InvalidArgument(f"Cluster '{cluster.name}' has no enabled tier")
        return cluster.id, tiers[0].id, framework.id
    if spec.tier_id not in {t.id for t in tiers}:
        raise InvalidArgument(f"Tier #{spec.tier_id} is not an enabled tier of cluster '{cluster.name}'")
    return cluster.id, spec.tier_id, framework.id


def _row(session: Session, actor: Actor, notebook_id: int, action: Action = Action.READ) -> ComputeInstance:
    row = session.get(ComputeInstance, notebook_id)
    if row is None or row.kind != KIND or not can(actor, Action.READ, instances.resource_of(row)):
        raise NotFound(f"Notebook #{notebook_id} not found", code="NotebookNotFound")
    authorize(actor, action, instances.resource_of(row))
    return row


def _view(session: Session, row: ComputeInstance) -> NotebookView:
    cluster = session.get(ComputeCluster, row.cluster_id)
    tier = session.get(ComputeTier, row.tier_id)
    assert cluster is not None and tier is not None  # foreign keys
    spec = json.loads(row.spec or "{}")
    return NotebookView(
        id=row.id,
        owner=row.namespace.name,
        name=row.name,
        model=str(spec.get("model", "")),
        revision=row.revision,
        commit=row.commit,
        dataset=str(spec.get("dataset", "")),
        dataset_commit=str(spec.get("dataset_commit", "")),
        cluster=cluster_view(cluster),
        tier=tier_view(tier),
        state=row.state,
        reason=row.reason,
        desired=row.desired,
        path=str(spec.get("base_url", "")),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def get_notebook(hub: Hub, actor: Actor, notebook_id: int) -> NotebookView:
    with hub.db() as session:
        return _view(session, _row(session, actor, notebook_id))


def list_notebooks(hub: Hub, actor: Actor, *, owner: str | None = None) -> list[NotebookView]:
    """The notebooks the actor may see (its own namespaces' members), newest first."""
    with hub.db() as session:
        stmt = select(ComputeInstance).where(ComputeInstance.kind == KIND)
        if owner is not None:
            stmt = stmt.join(Namespace, ComputeInstance.namespace_id == Namespace.id).where(
                Namespace.name_key == owner.lower()
            )
        rows = session.scalars(stmt.order_by(ComputeInstance.id.desc()).limit(1000)).all()
        return [_view(session, r) for r in rows if can(actor, Action.READ, instances.resource_of(r))]


def start_notebook(hub: Hub, actor: Actor, notebook_id: int) -> NotebookView:
    """Run a stopped or failed notebook again; its work folder (notebooks, files) is as it was left."""
    with hub.db() as session:
        row = _row(session, actor, notebook_id, Action.MANAGE)
        if row.desired == "running" and row.state not in (instances.STOPPED, instances.FAILED):
            return _view(session, row)
        row.desired = "running"
        for replica in session.scalars(select(ComputeReplica).where(ComputeReplica.instance_id == row.id)):
            session.delete(replica)
        instances.move(session, row, instances.PENDING, f"started by {actor.name}")
        return _view(session, row)


def stop_notebook(hub: Hub, actor: Actor, notebook_id: int) -> NotebookView:
    """Its process (Jupyter, its kernels and terminals) ends before this returns; its files stay."""
    with hub.db() as session:
        # Recorded first, as an endpoint's stop does: a supervisor in another process restarts nothing.
        _row(session, actor, notebook_id, Action.MANAGE).desired = "stopped"
    with hub.compute.lock(notebook_id):
        stop_replicas(hub, notebook_id)
        with hub.db() as session:
            row = _row(session, actor, notebook_id, Action.MANAGE)
            instances.move(session, row, instances.STOPPED, f"stopped by {actor.name}")
            hub.compute.routes.clear()
            return _view(session, row)


def delete_notebook(hub: Hub, actor: Actor, notebook_id: int) -> None:
    """Its process ends, its record, logs and work folder go."""
    with hub.db() as session:
        # Recorded first, as a stop does: a supervisor in another process starts no replica meanwhile.
        _row(session, actor, notebook_id, Action.MANAGE).desired = "stopped"
    with hub.compute.lock(notebook_id):
        stop_replicas(hub, notebook_id, forget=True)
        with hub.db() as session:
            session.delete(_row(session, actor, notebook_id, Action.MANAGE))
        hub.compute.routes.clear()
    shutil.rmtree(notebook_dir(hub, notebook_id), ignore_errors=True)


def notebook_route(hub: Hub, actor: Actor, owner: str, name: str) -> NotebookRoute:
    """Where the proxy sends a request for the notebook, if `actor` may use it (its namespace's members);
    NotFound for anyone else, ServiceUnavailable while it has no healthy replica."""
    key = f"notebook\x00{owner.lower()}\x00{name.lower()}"
    found: tuple[EndpointResource, str, str, str] | None = hub.compute.routes.get(key)
    if found is None:
        found = _load_route(hub, owner, name)
        if found is None:
            raise NotFound(f"Notebook not found: {owner}/{name}", code="NotebookNotFound")
        hub.compute.routes.put(key, found)
    resource, url, base_url, state = found
    if not can(actor, Action.CALL, resource):
        raise NotFound(f"Notebook not found: {owner}/{name}", code="NotebookNotFound")
    if not url:
        raise ServiceUnavailable(f"Notebook {owner}/{name} is not running (state: {state})", code="NotebookNotRunning")
    return NotebookRoute(url, base_url)


def _load_route(hub: Hub, owner: str, name: str) -> tuple[EndpointResource, str, str, str] | None:
    with hub.db() as session:
        row = instances.find_row(session, KIND, owner, name)
        if row is None:
            return None
        url = session.scalar(
            select(ComputeReplica.url)
            .where(ComputeReplica.instance_id == row.id, ComputeReplica.state == "healthy")
            .order_by(ComputeReplica.generation.desc())
        )
        base_url = str(json.loads(row.spec or "{}").get("base_url", ""))
        live = row.desired == "running" and bool(url)
        return instances.resource_of(row), url if live and url else "", base_url, row.state
