"""An instance's replicas: their views, their logs, and ending them (stop, delete, failure)."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from csghub.core.errors import NotFound
from csghub.db.models import ComputeInstance, ComputeReplica
from csghub.runtime.base import Handle, RunnerError
from csghub.services.compute import instances
from csghub.services.compute.clusters import runner_for
from csghub.services.compute.frameworks import handle_of
from csghub.services.compute.launch import space_dir
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize

log = logging.getLogger(__name__)
STOP_GRACE = 10.0


@dataclass(frozen=True, slots=True)
class ReplicaView:
    index: int
    state: str  # "waiting" | "starting" | "healthy"
    url: str
    restarts: int
    started_at: datetime | None
    generation: int = 1


def replica_views(session: Session, row: ComputeInstance) -> tuple[ReplicaView, ...]:
    rows = session.scalars(
        select(ComputeReplica)
        .where(ComputeReplica.instance_id == row.id)
        .order_by(ComputeReplica.generation.desc(), ComputeReplica.index)
    ).all()
    return tuple(ReplicaView(r.index, r.state, r.url, r.restarts, r.started_at, r.generation) for r in rows)


def stop_handles(hub: Hub, cluster_id: int, handles: list[Handle], *, grace: float = STOP_GRACE) -> None:
    if not handles:
        return
    runner = runner_for(hub, cluster_id)
    for handle in handles:
        try:
            runner.stop(handle, grace=grace)
        except RunnerError as exc:  # its cluster went away: nothing left to stop there
            log.warning("could not stop %s: %s", handle.key, exc)
        hub.compute.suspects.discard(handle.url)
        hub.compute.misses.pop(handle.url, None)


def stop_replicas(hub: Hub, instance_id: int, *, forget: bool = False) -> None:
    """End every process of an instance and drop its replica records (callers hold the instance's lock);
    `forget` also removes their logs from this machine."""
    with hub.db() as session:
        row = session.get(ComputeInstance, instance_id)
        if row is None:
            return
        cluster_id = row.cluster_id
        replicas = session.scalars(select(ComputeReplica).where(ComputeReplica.instance_id == instance_id)).all()
        handles = [h for h in (handle_of(r.handle) for r in replicas) if h is not None]
        keys = [json.loads(r.handle).get("key", "") for r in replicas if r.handle]
    stop_handles(hub, cluster_id, handles)
    with hub.db() as session:
        for replica in session.scalars(select(ComputeReplica).where(ComputeReplica.instance_id == instance_id)):
            session.delete(replica)
    if forget:
        forget_files(hub, instance_id, keys)


def forget_files(hub: Hub, instance_id: int, keys: list[str]) -> None:
    """What this machine keeps of an instance's processes (the local runner's logs, process records and
    working folders, earlier attempts' and generations' too) and the weights its replicas downloaded,
    unless another instance serves the same model at the same commit: nothing is left after a delete."""
    compute = hub.settings.compute_dir
    prefixes = (
        f"endpoint-{instance_id}-",
        f"notebook-{instance_id}-",
        f"space-{instance_id}-",
    )  # ProcessSpec keys, by kind
    names = {k for k in keys if k and "/" not in k}
    for folder in ("logs", "processes", "work"):
        if (compute / folder).is_dir():
            names |= {p.name.split(".")[0] for p in (compute / folder).iterdir() if p.name.startswith(prefixes)}
    for name in names:
        (compute / "logs" / f"{name}.log").unlink(missing_ok=True)
        (compute / "processes" / f"{name}.json").unlink(missing_ok=True)
        shutil.rmtree(compute / "work" / name, ignore_errors=True)
    shutil.rmtree(space_dir(hub, instance_id), ignore_errors=True)  # a space's checkouts and build log
    with hub.db() as session:
        row = session.get(ComputeInstance, instance_id)
        if row is None or not row.repo_id:
            return
        repo_id = row.repo_id
        used = set(
            session.scalars(
                select(ComputeInstance.commit).where(
                    ComputeInstance.repo_id == repo_id, ComputeInstance.id != instance_id
                )
            )
        )
    models = compute / "models"
    if models.is_dir():
        # The model's folder, its partial downloads and its download lock (hidden: runtime/workers/hub_fetch.py).
        for path in [*models.glob(f"{repo_id}-*"), *models.glob(f".{repo_id}-*.lock")]:
            commit = path.name.removeprefix(".").removesuffix(".lock").split("-", 1)[1].split(".partial-")[0]
            if commit in used:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def read_replica_log(hub: Hub, actor: Actor, endpoint_id: int, replica: int, offset: int = 0) -> bytes:
    """The newest generation's replica `replica`'s log from `offset` (b"" past its end)."""
    with hub.db() as session:
        row = session.get(ComputeInstance, endpoint_id)
        if row is None or row.kind != "endpoint":
            raise NotFound(f"Endpoint #{endpoint_id} not found", code="EndpointNotFound")
        authorize(actor, Action.MANAGE, instances.resource_of(row))
        found = session.scalar(
            select(ComputeReplica)
            .where(ComputeReplica.instance_id == endpoint_id, ComputeReplica.index == replica)
            .order_by(ComputeReplica.generation.desc())
        )
        if found is None:
            raise NotFound(f"Replica {replica} of endpoint #{endpoint_id} does not exist", code="ReplicaNotFound")
        handle, cluster_id = handle_of(found.handle), row.cluster_id
    if handle is None:
        return b""
    return runner_for(hub, cluster_id).read_log(handle, max(0, offset))


def prune_space_checkouts(hub: Hub) -> int:
    """A running space's checkouts of earlier commits (one per push, in space_dir) go once only its
    current commit's replica runs: a rollout's previous app may still serve from its folder until then.
    The number of folders removed."""
    removed = 0
    with hub.db() as session:
        rows = session.execute(
            select(ComputeInstance.id, ComputeInstance.commit).where(
                ComputeInstance.kind == "space", ComputeInstance.state == instances.RUNNING
            )
        ).all()
        generations = {
            instance_id: count
            for instance_id, count in session.execute(
                select(ComputeReplica.instance_id, func.count(func.distinct(ComputeReplica.generation))).group_by(
                    ComputeReplica.instance_id
                )
            ).all()
        }
    for instance_id, commit in rows:
        folder = space_dir(hub, instance_id)
        if generations.get(instance_id, 0) > 1 or not commit or not folder.is_dir():
            continue
        for path in folder.iterdir():
            # A checkout, its revision marker, and (hubs before 2026-12-03) its own app state.
            name = path.name.removeprefix(".").removesuffix(".revision").removesuffix(".state")
            if len(name) == 12 and name != commit[:12] and all(c in "0123456789abcdef" for c in name):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                    removed += 1
                else:
                    path.unlink(missing_ok=True)
    return removed
