"""One supervisor pass over one instance: its framework built, its replicas stepped towards the number
it should run (scaling.py says how many), a new generation rolled out before the old one stops, and a
failed rollout rolled back while the old replicas keep serving."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from csghub.db.models import ComputeInstance, ComputeReplica, ComputeTier, RuntimeFramework
from csghub.runtime.base import Environment, Resources
from csghub.services.compute import frameworks, instances, layers, scaling
from csghub.services.compute.clusters import runner_for, tier_view
from csghub.services.compute.frameworks import FrameworkView, framework_view
from csghub.services.compute.launch import Launch
from csghub.services.compute.replica_steps import Rep, event, new_replica, rep_of, save, step
from csghub.services.compute.replicas import stop_handles, stop_replicas
from csghub.services.context import Hub


def _set_state(hub: Hub, instance_id: int, state: str, reason: str = "", *, level: str = "info") -> None:
    with hub.db() as session:
        row = session.get(ComputeInstance, instance_id)
        live = row is not None and row.desired == "running" and row.state not in (instances.STOPPED, instances.FAILED)
        if live and row is not None and instances.move(session, row, state, reason, level=level):
            hub.compute.routes.clear()


def fail(hub: Hub, instance_id: int, reason: str) -> None:
    """Unrecoverable: its processes end, the record says why."""
    stop_replicas(hub, instance_id)
    _set_state(hub, instance_id, instances.FAILED, reason, level="error")


@dataclass(slots=True)
class Plan:
    """An instance as a pass reads it from the database. Kept between passes while its record's
    `updated_at` stays the same (every state change, update, start and stop moves it) and for at most
    PLAN_SECONDS, so a steady endpoint's pass reads nothing; its replicas are the pass's own objects,
    which it saves when they change."""

    stamp: datetime
    read_at: float
    launch: Launch
    framework: FrameworkView
    resources: Resources
    state: str
    cluster_id: int
    minimum: int
    maximum: int
    reps: list[Rep]


# How a failed environment build's reason begins (a space's status calls that build-failed).
BUILD_FAILED = "build failed: "
# What the record does not stamp (its model repository or creator deleted) is seen this late at most.
PLAN_SECONDS = 10.0


def _read(hub: Hub, instance_id: int) -> Plan | None:
    """The instance's plan, None when it should run nothing (failed here when it cannot run)."""
    with hub.db() as session:
        row = session.get(ComputeInstance, instance_id)
        if row is None or row.desired != "running" or row.state in (instances.STOPPED, instances.FAILED):
            return None
        framework_row = session.get(RuntimeFramework, row.framework_id)
        tier_row = session.get(ComputeTier, row.tier_id)
        assert framework_row is not None and tier_row is not None  # foreign keys
        framework, tier = framework_view(framework_row), tier_view(tier_row)
        spec = json.loads(row.spec or "{}")
        launch = Launch(
            instance_id=row.id,
            generation=row.generation,
            model=str(spec.get("model", "")),
            repo_id=row.repo_id or 0,
            commit=row.commit,
            created_by=row.created_by or 0,
            engine=framework.engine,
            engine_args=tuple(sorted(dict(spec.get("engine_args", {})).items())),
            env=tuple(sorted(dict(spec.get("env", {})).items())),
            base=(spec["base_model"], spec["base_repo_id"], spec["base_commit"]) if spec.get("base_model") else None,
            kind=row.kind,
            dataset=(spec["dataset"], spec["dataset_repo_id"], spec["dataset_commit"]) if spec.get("dataset") else None,
            base_url=str(spec.get("base_url", "")),
            sdk=str(spec.get("sdk", "")),
            app_file=str(spec.get("app_file", "")),
            requirements=tuple(str(r) for r in spec.get("requirements", ())),
        )
        if spec.get("static"):  # a static space runs no process: the hub serves its files
            return None
        if not row.repo_id or not row.created_by:
            reason = "its model repository was deleted" if not row.repo_id else "its creator's account was deleted"
        else:
            reason = ""
        reps = [rep_of(r) for r in session.scalars(select(ComputeReplica).where(ComputeReplica.instance_id == row.id))]
        plan = Plan(
            row.updated_at,
            time.monotonic(),
            launch,
            framework,
            tier.resources,
            row.state,
            row.cluster_id,
            row.min_replicas,
            row.max_replicas,
            reps,
        )
    if reason:
        fail(hub, instance_id, reason)
        return None
    return plan


def reconcile(hub: Hub, instance_id: int, stamp: datetime | None = None) -> None:
    """One pass; `stamp` is the record's updated_at as the caller just read it (None: read it all)."""
    plan = hub.compute.plans.pop(instance_id, None)
    if plan is None or plan.stamp != stamp or time.monotonic() - plan.read_at > PLAN_SECONDS:
        plan = _read(hub, instance_id)
        if plan is None:
            return
    launch, framework, state, cluster_id = plan.launch, plan.framework, plan.state, plan.cluster_id
    minimum, maximum, reps = plan.minimum, plan.maximum, plan.reps
    environment = _environment(hub, launch, framework, state)
    if environment is None:
        return
    runner = runner_for(hub, cluster_id)
    current = {r.index: r for r in reps if r.generation == launch.generation}
    older = [r for r in reps if r.generation != launch.generation]
    wanted = _size(hub, instance_id, current, older, minimum, maximum, scale=state == instances.RUNNING)
    for index in range(wanted):
        if index not in current:
            current[index] = new_replica(hub, instance_id, launch.generation, index)
    for index in sorted(current):
        if index >= wanted:
            continue
        replica = current[index]
        seen = dataclasses.replace(replica)
        failure = step(hub, runner, replica, launch, environment, plan.resources)
        if replica != seen:  # a healthy replica's pass writes nothing: no transaction per replica a second
            save(hub, replica)
        if failure:
            _give_up(hub, instance_id, cluster_id, replica, failure, current, older, kind=launch.kind)
            return
    healthy = sum(1 for i, r in current.items() if i < wanted and r.state == "healthy")
    retired = older + [r for i, r in current.items() if i >= wanted]
    if healthy >= wanted:
        if older:
            event(hub, instance_id, f"generation {launch.generation} is healthy; the previous replicas stop")
        _retire(hub, cluster_id, retired)
        if state != instances.RUNNING:  # a running one keeps its reason (a rolled back update's)
            _set_state(hub, instance_id, instances.RUNNING)
    elif healthy == 0 and not any(r.state == "healthy" for r in retired):
        _set_state(hub, instance_id, instances.DEPLOYING)
    if not retired and state == instances.RUNNING:  # settled: the next pass needs no read
        plan.reps = list(current.values())
        hub.compute.plans[instance_id] = plan


def _size(
    hub: Hub, instance_id: int, current: dict[int, Rep], older: list[Rep], minimum: int, maximum: int, *, scale: bool
) -> int:
    """How many replicas this generation runs: as many as last decided (a new generation as many as the
    one it replaces; after a hub restart, as many as have records), within min and max, and, for an
    endpoint settled in running, what autoscaling makes of that."""
    remembered = hub.compute.sizes.get(instance_id) if current or older else None  # none: a fresh start
    known = remembered or len(current) or len({r.index for r in older})
    size = max(minimum, min(maximum, known))
    if scale and not older and minimum < maximum:
        ready = sum(1 for i, r in current.items() if i < size and r.state == "healthy")
        size, why = scaling.decide(hub, instance_id, size=size, minimum=minimum, maximum=maximum, ready=ready)
        if why:
            event(hub, instance_id, why)
    hub.compute.sizes[instance_id] = size
    return size


def _give_up(
    hub: Hub,
    instance_id: int,
    cluster_id: int,
    replica: Rep,
    why: str,
    current: dict[int, Rep],
    older: list[Rep],
    *,
    kind: str,
) -> None:
    """A replica kept dying during start-up. While others serve, only what it was for is given up: a
    rollout is rolled back, a scale-up undone; else the instance fails. A space has no rollback: its
    commit is what its repository's branch says, so a push whose app cannot start shows that failure
    (runtime-error, with the app's last lines) rather than the previous app under the new commit."""
    if kind == "space":
        fail(hub, instance_id, why)
    elif any(r.state == "healthy" for r in older):
        _retire(hub, cluster_id, list(current.values()))
        _roll_back(hub, instance_id, why, serving=max(r.generation for r in older if r.state == "healthy"))
    elif any(r.state == "healthy" for r in current.values() if r.index < replica.index):
        hub.compute.sizes[instance_id] = replica.index
        _retire(hub, cluster_id, [r for r in current.values() if r.index >= replica.index])
        event(hub, instance_id, f"could not scale to {replica.index + 1} replicas: {why}", level="error")
    else:
        fail(hub, instance_id, why)


def _roll_back(hub: Hub, instance_id: int, why: str, *, serving: int) -> None:
    """The record goes back to what the previous generation runs (update_endpoint kept it), which keeps
    serving; the failure is the reason and an event."""
    with hub.db() as session:
        row = session.get(ComputeInstance, instance_id)
        if row is None:
            return
        failed = row.generation
        previous = json.loads(row.spec or "{}").get("previous")
        if previous:
            row.revision, row.commit = previous["revision"], previous["commit"]
            row.cluster_id, row.tier_id = previous["cluster_id"], previous["tier_id"]
            row.framework_id, row.generation = previous["framework_id"], previous["generation"]
            row.spec = json.dumps(previous["spec"])
        else:  # a record from before updates kept their previous settings: the serving replicas stay
            row.generation = serving
        instances.add_event(
            session,
            instance_id,
            f"update to generation {failed} failed, rolled back to generation {row.generation}: {why}",
            level="error",
        )
        instances.move(session, row, instances.RUNNING, f"the last update failed: {why}", level="error")
    hub.compute.routes.clear()


def _environment(hub: Hub, launch: Launch, framework: FrameworkView, state: str) -> Environment | None:
    """What its replicas run in once ready: the framework's environment, or a space's layer over it."""
    if not _framework_ready(hub, launch.instance_id, framework, state, deploy=not launch.requirements):
        return None
    if not launch.requirements:
        return frameworks.environment_of(hub, framework)
    layer, error = layers.ready(hub, launch)
    if error:
        fail(hub, launch.instance_id, f"{BUILD_FAILED}{error}")
        return None
    if layer is None:
        _set_state(hub, launch.instance_id, instances.BUILDING, "installing requirements.txt")
        return None
    if state in (instances.PENDING, instances.BUILDING):
        _set_state(hub, launch.instance_id, instances.DEPLOYING)
    return layer


def _framework_ready(hub: Hub, instance_id: int, framework: FrameworkView, state: str, *, deploy: bool = True) -> bool:
    if not framework.enabled and state in (instances.PENDING, instances.BUILDING):
        # Replicas already running keep serving; a disabled framework only starts nothing new.
        fail(hub, instance_id, f"runtime framework '{framework.name}' is disabled")
        return False
    if framework.state in ("absent", "building"):
        if framework.state == "absent":
            frameworks.request_build(hub, framework.id)
        _set_state(hub, instance_id, instances.BUILDING, f"building runtime framework '{framework.name}'")
        return False
    if framework.state == "failed":
        fail(hub, instance_id, f"runtime framework '{framework.name}' failed to build: {framework.reason}")
        return False
    if deploy and state in (instances.PENDING, instances.BUILDING):
        _set_state(hub, instance_id, instances.DEPLOYING)
    return True


def _retire(hub: Hub, cluster_id: int, replicas: list[Rep]) -> None:
    """Out of the routes first, then stopped: no new request reaches a replica while it stops (a process
    left running by a crash here has no record any more, and the orphan sweep ends it)."""
    if not replicas:
        return
    with hub.db() as session:
        for replica in replicas:
            row = session.get(ComputeReplica, replica.id)
            if row is not None:
                session.delete(row)
    hub.compute.routes.clear()
    stop_handles(hub, cluster_id, [r.handle for r in replicas if r.handle is not None])
