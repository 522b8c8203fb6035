"""The supervisor: about once a second it makes what runs match what the records ask for. It starts
framework builds, starts replicas and waits for their /health, restarts the ones that die (with
backoff and an event each time), fails an instance whose replicas keep dying during start-up (with the
log's tail), rolls out a new generation before stopping the old one, re-adopts the processes of an
earlier life of the hub, and stops processes no record owns. One instance at a time, under its lock."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from csghub.db.models import ComputeInstance, ComputeReplica, ComputeTier, RuntimeFramework, utcnow
from csghub.runtime.base import Environment, Handle, ProcessState, Resources, Runner, RunnerError
from csghub.services.compute import frameworks, instances
from csghub.services.compute.clusters import LOCAL_CLUSTER_ID, known_runners, runner_for, tier_view
from csghub.services.compute.frameworks import FrameworkView, framework_view, handle_of, handle_text, log_tail
from csghub.services.compute.launch import Launch, replica_spec
from csghub.services.compute.replicas import stop_handles, stop_replicas
from csghub.services.context import Hub

log = logging.getLogger(__name__)
TICK_SECONDS = 1.0
SWEEP_EVERY = 30  # ticks between looks for processes no record owns
HEALTH_TIMEOUT = 1.0
STARTUP_TIMEOUT = 300.0  # seconds a replica may take to answer /health (download and load included)
MAX_STARTUP_FAILURES = 2  # exits during start-up in a row before the instance fails (one retry)
MAX_HEALTH_MISSES = 3  # failed health checks in a row before a running replica is restarted
BACKOFF_CAP = 60.0


def backoff(failures: int) -> float:
    """1 s, 2 s, 4 s ... capped at a minute."""
    return min(BACKOFF_CAP, 2.0 ** max(0, failures - 1))


@dataclass(slots=True)
class Rep:
    """A replica record as one pass sees it, and what the pass changes."""

    id: int
    generation: int
    index: int
    state: str
    handle: Handle | None
    attempts: int
    restarts: int
    startup_failures: int
    started_at: datetime | None
    not_before: datetime | None


async def supervise(hub: Hub) -> None:
    """The supervisor task (app.py's lifespan starts it and cancels it on shutdown)."""
    await asyncio.to_thread(adopt, hub)
    ticks = 0
    while True:
        ticks += 1
        try:
            await asyncio.to_thread(tick, hub, sweep=ticks % SWEEP_EVERY == 0)
        except Exception:  # a background loop: log, never stop supervising
            log.exception("compute supervisor pass failed")
        await asyncio.sleep(TICK_SECONDS)


def adopt(hub: Hub) -> None:
    """At start: frameworks found built, replicas of an earlier life re-adopted or started again,
    processes nobody owns stopped."""
    frameworks.sync_built(hub)
    with hub.db() as session:
        rows = session.execute(
            select(ComputeReplica, ComputeInstance.cluster_id)
            .join(ComputeInstance, ComputeReplica.instance_id == ComputeInstance.id)
            .where(ComputeReplica.state.in_(("starting", "healthy")))
        ).all()
        found = [(r.id, r.instance_id, r.index, handle_of(r.handle), cluster_id) for r, cluster_id in rows]
    for replica_id, instance_id, index, handle, cluster_id in found:
        alive = handle is not None and _alive(hub, cluster_id, handle)
        with hub.db() as session:
            replica = session.get(ComputeReplica, replica_id)
            if replica is None:
                continue
            if alive:
                # Healthy again once it answers /health; its start-up time counts from now.
                replica.state, replica.started_at = "starting", utcnow()
                instances.add_event(session, instance_id, f"replica {index} re-adopted after a hub restart")
            else:
                replica.state, replica.not_before = "waiting", None
                instances.add_event(
                    session, instance_id, f"replica {index} was gone after a hub restart; starting it again"
                )
    sweep_orphans(hub)


def _alive(hub: Hub, cluster_id: int, handle: Handle) -> bool:
    try:
        return runner_for(hub, cluster_id).status(handle).state is ProcessState.RUNNING
    except RunnerError:
        return False


def tick(hub: Hub, *, sweep: bool = False) -> None:
    try:
        frameworks.check_builds(hub)
    except Exception:  # the builds' trouble must not stop the endpoints' supervision
        log.exception("checking runtime framework builds failed")
    with hub.db() as session:
        ids = list(
            session.scalars(
                select(ComputeInstance.id).where(
                    ComputeInstance.desired == "running",
                    ComputeInstance.state.notin_((instances.STOPPED, instances.FAILED)),
                )
            )
        )
    with hub.db() as session:
        # Processes of instances that should have none (a start that raced a stop, a failure).
        idle = set(
            session.scalars(
                select(ComputeReplica.instance_id)
                .join(ComputeInstance, ComputeReplica.instance_id == ComputeInstance.id)
                .where(
                    (ComputeInstance.desired != "running")
                    | ComputeInstance.state.in_((instances.STOPPED, instances.FAILED))
                )
            )
        )
    for instance_id in idle:
        with hub.compute.lock(instance_id):
            stop_replicas(hub, instance_id)
    for instance_id in ids:
        lock = hub.compute.lock(instance_id)
        if not lock.acquire(blocking=False):
            continue  # a stop or delete is under way
        try:
            reconcile(hub, instance_id)
        except Exception:
            log.exception("supervising instance %s failed", instance_id)
        finally:
            lock.release()
    if sweep:
        sweep_orphans(hub)


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


def reconcile(hub: Hub, instance_id: int) -> None:
    with hub.db() as session:
        row = session.get(ComputeInstance, instance_id)
        if row is None or row.desired != "running" or row.state in (instances.STOPPED, instances.FAILED):
            return
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
        )
        state, cluster_id, wanted = row.state, row.cluster_id, row.min_replicas
        if not row.repo_id or not row.created_by:
            reason = "its model repository was deleted" if not row.repo_id else "its creator's account was deleted"
        else:
            reason = ""
        reps = [_rep(r) for r in session.scalars(select(ComputeReplica).where(ComputeReplica.instance_id == row.id))]
    if reason:
        fail(hub, instance_id, reason)
        return
    if not _framework_ready(hub, instance_id, framework, state):
        return
    runner = runner_for(hub, cluster_id)
    environment = frameworks.environment_of(hub, framework)
    current = {r.index: r for r in reps if r.generation == launch.generation}
    for index in range(wanted):
        if index not in current:
            current[index] = _new_replica(hub, instance_id, launch.generation, index)
    for index in sorted(current):
        if index >= wanted:
            continue
        replica = current[index]
        failure = _step(hub, runner, replica, launch, environment, tier.resources)
        _save(hub, replica)
        if failure:
            fail(hub, instance_id, failure)
            return
    healthy = sum(1 for i, r in current.items() if i < wanted and r.state == "healthy")
    retired = [r for r in reps if r.generation != launch.generation] + [r for i, r in current.items() if i >= wanted]
    if healthy >= wanted:
        if any(r.generation != launch.generation for r in retired):
            _event(hub, instance_id, f"generation {launch.generation} is healthy; the previous replicas stop")
        _retire(hub, cluster_id, retired)
        _set_state(hub, instance_id, instances.RUNNING)
    elif healthy == 0 and not any(r.state == "healthy" for r in retired):
        _set_state(hub, instance_id, instances.DEPLOYING)


def _framework_ready(hub: Hub, instance_id: int, framework: FrameworkView, state: str) -> bool:
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
    if state in (instances.PENDING, instances.BUILDING):
        _set_state(hub, instance_id, instances.DEPLOYING)
    return True


def _rep(row: ComputeReplica) -> Rep:
    return Rep(
        row.id,
        row.generation,
        row.index,
        row.state,
        handle_of(row.handle),
        row.attempts,
        row.restarts,
        row.startup_failures,
        row.started_at,
        row.not_before,
    )


def _new_replica(hub: Hub, instance_id: int, generation: int, index: int) -> Rep:
    with hub.db() as session:
        row = ComputeReplica(instance_id=instance_id, generation=generation, index=index, state="waiting")
        session.add(row)
        session.flush()
        return _rep(row)


def _save(hub: Hub, replica: Rep) -> None:
    with hub.db() as session:
        row = session.get(ComputeReplica, replica.id)
        if row is None:
            return
        row.state, row.attempts, row.restarts = replica.state, replica.attempts, replica.restarts
        row.startup_failures, row.started_at, row.not_before = (
            replica.startup_failures,
            replica.started_at,
            replica.not_before,
        )
        row.handle = handle_text(replica.handle) if replica.handle else ""
        row.url = replica.handle.url if replica.handle and replica.state == "healthy" else ""
    if replica.state != "healthy" and replica.handle is not None:
        hub.compute.routes.clear()


def _event(hub: Hub, instance_id: int, message: str, *, level: str = "info") -> None:
    with hub.db() as session:
        instances.add_event(session, instance_id, message, level=level)


def _healthy(hub: Hub, url: str) -> bool:
    try:
        return hub.compute.health_client.get(f"{url}/health", timeout=HEALTH_TIMEOUT).status_code == 200
    except httpx.HTTPError:
        return False


def _step(
    hub: Hub, runner: Runner, replica: Rep, launch: Launch, environment: Environment, resources: Resources
) -> str:
    """Move one replica along; returns why the instance must fail, or ""."""
    now = utcnow()
    iid, index = launch.instance_id, replica.index
    if replica.state == "waiting":
        if replica.not_before is not None and now < replica.not_before:
            return ""
        replica.attempts += 1
        try:
            replica.handle = runner.start(replica_spec(hub, launch, environment, resources, index, replica.attempts))
        except RunnerError as exc:
            return _startup_failure(hub, replica, launch, f"could not start: {exc.message}")
        replica.state, replica.started_at = "starting", now
        _event(hub, iid, f"replica {index} starting (attempt {replica.attempts})")
        return ""
    handle = replica.handle
    if handle is None:
        replica.state = "waiting"
        return ""
    status = runner.status(handle)
    if replica.state == "starting":
        if status.state is not ProcessState.RUNNING:
            tail = frameworks.tail_text(log_tail(runner, handle), 12)
            detail = status.detail or f"exit status {status.exit_code}"
            return _startup_failure(hub, replica, launch, f"exited during start-up ({detail})", tail)
        if _healthy(hub, handle.url):
            replica.state, replica.startup_failures = "healthy", 0
            hub.compute.misses.pop(handle.url, None)
            seconds = (now - replica.started_at).total_seconds() if replica.started_at else 0.0
            _event(hub, iid, f"replica {index} is ready ({handle.url}, {seconds:.1f} s after its start)")
        elif replica.started_at is not None and (now - replica.started_at).total_seconds() > STARTUP_TIMEOUT:
            runner.stop(handle, grace=5.0)
            return _startup_failure(hub, replica, launch, f"did not answer /health within {STARTUP_TIMEOUT:.0f} s")
        return ""
    # healthy
    if status.state is not ProcessState.RUNNING:
        return _restart(hub, replica, launch, f"exited ({status.detail or f'exit status {status.exit_code}'})")
    if _healthy(hub, handle.url):
        hub.compute.misses.pop(handle.url, None)
        hub.compute.suspects.discard(handle.url)
        return ""
    misses = hub.compute.misses.get(handle.url, 0) + 1
    hub.compute.misses[handle.url] = misses
    if misses >= MAX_HEALTH_MISSES:
        runner.stop(handle, grace=5.0)
        hub.compute.misses.pop(handle.url, None)
        return _restart(hub, replica, launch, f"stopped answering /health ({misses} checks in a row)")
    return ""


def _restart(hub: Hub, replica: Rep, launch: Launch, why: str) -> str:
    replica.restarts += 1
    delay = backoff(replica.restarts)
    replica.state, replica.not_before = "waiting", utcnow() + timedelta(seconds=delay)
    if replica.handle is not None:
        hub.compute.suspects.discard(replica.handle.url)
    _event(hub, launch.instance_id, f"replica {replica.index} {why}; restarting in {delay:.0f} s", level="warning")
    return ""


def _startup_failure(hub: Hub, replica: Rep, launch: Launch, why: str, tail: str = "") -> str:
    replica.startup_failures += 1
    message = f"replica {replica.index} {why}" + (f":\n{tail}" if tail else "")
    _event(hub, launch.instance_id, message, level="error")
    if replica.startup_failures >= MAX_STARTUP_FAILURES:
        last = next((line for line in reversed(tail.splitlines()) if line.strip()), "")
        return f"replica {replica.index} {why}" + (f": {last.strip()}" if last else "")
    replica.state = "waiting"
    replica.not_before = utcnow() + timedelta(seconds=backoff(replica.startup_failures))
    return ""


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


def sweep_orphans(hub: Hub) -> None:
    """Stop what runners run that no replica or build record knows (an endpoint deleted while the hub
    was down, a start that raced a delete)."""
    if hub.compute.make_runner is None:
        return
    with hub.db() as session:
        known = {json.loads(h).get("key", "") for h in session.scalars(select(ComputeReplica.handle)) if h}
        builds = session.scalars(select(RuntimeFramework.build_handle).where(RuntimeFramework.build_handle != ""))
        known |= {json.loads(h).get("key", "") for h in builds}
        clusters = set(session.scalars(select(ComputeInstance.cluster_id).distinct()))
    runners = {LOCAL_CLUSTER_ID: runner_for(hub, LOCAL_CLUSTER_ID), **known_runners(hub)}
    for cluster_id in clusters:
        try:
            runners.setdefault(cluster_id, runner_for(hub, cluster_id))
        except RunnerError as exc:
            log.warning("cluster %s is unreachable: %s", cluster_id, exc)
    for cluster_id, runner in runners.items():
        try:
            orphans = [h for h in runner.running() if h.key not in known]
        except RunnerError as exc:
            log.warning("cannot list what cluster %s runs: %s", cluster_id, exc)
            continue
        for handle in orphans:
            log.info("stopping %s: no record owns it", handle.key)
            stop_handles(hub, cluster_id, [handle], grace=5.0)


def shutdown(hub: Hub) -> None:
    """On hub shutdown: replicas keep running to be re-adopted, unless the setting says to stop them."""
    if hub.compute.make_runner is None:
        return
    if hub.settings.compute_stop_on_shutdown:
        with hub.db() as session:
            ids = list(session.scalars(select(ComputeReplica.instance_id).distinct()))
        for instance_id in ids:
            with hub.compute.lock(instance_id):
                stop_replicas(hub, instance_id)
    for runner in known_runners(hub).values():
        runner.close()
    with hub.compute.guard:
        hub.compute.runners.clear()
