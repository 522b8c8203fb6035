"""The supervisor: about once a second it makes what runs match what the records ask for. It starts
framework builds, starts replicas and waits for their /health, restarts the ones that die (with
backoff and an event each time), fails an instance whose replicas keep dying during start-up (with the
log's tail), rolls out a new generation before stopping the old one, re-adopts the processes of an
earlier life of the hub, and stops processes no record owns. One instance at a time, under its lock."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging

from sqlalchemy import select

from csghub.db.models import ComputeInstance, ComputeReplica, RuntimeFramework, utcnow
from csghub.runtime.base import Handle, ProcessState, RunnerError
from csghub.services.background import run_passes
from csghub.services.compute import frameworks, instances, layers, scaling
from csghub.services.compute import idle as sleeping
from csghub.services.compute.clusters import LOCAL_CLUSTER_ID, known_runners, runner_for
from csghub.services.compute.frameworks import handle_of
from csghub.services.compute.reconcile import reconcile
from csghub.services.compute.replica_steps import backoff
from csghub.services.compute.replicas import prune_space_checkouts, stop_handles, stop_replicas
from csghub.services.context import Hub

__all__ = ["adopt", "backoff", "shutdown", "supervise", "sweep_orphans", "tick"]

log = logging.getLogger(__name__)
TICK_SECONDS = 1.0
SWEEP_EVERY = 30  # ticks between looks for processes no record owns


async def supervise(hub: Hub) -> None:
    """The supervisor task."""
    await asyncio.to_thread(adopt, hub)
    passes = itertools.count(1)

    def one_pass() -> float:
        tick(hub, sweep=next(passes) % SWEEP_EVERY == 0)
        return TICK_SECONDS

    await run_passes("compute supervisor", one_pass, after_failure=TICK_SECONDS)


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
        # With when each record last changed: a settled instance's pass then reads nothing more.
        stamps = dict(
            session.execute(
                select(ComputeInstance.id, ComputeInstance.updated_at).where(
                    ComputeInstance.desired == "running",
                    ComputeInstance.state.notin_((instances.STOPPED, instances.FAILED)),
                )
            )
            .tuples()
            .all()
        )
        ids = list(stamps)
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
    for instance_id in set(hub.compute.sizes) - set(ids):  # stopped, failed or deleted (maybe elsewhere)
        scaling.forget(hub, instance_id)
    for instance_id in idle:
        with hub.compute.lock(instance_id):
            stop_replicas(hub, instance_id)
    for instance_id in ids:
        lock = hub.compute.lock(instance_id)
        if not lock.acquire(blocking=False):
            continue  # a stop or delete is under way
        try:
            reconcile(hub, instance_id, stamps[instance_id])
        except Exception:
            log.exception("supervising instance %s failed", instance_id)
        finally:
            lock.release()
    try:
        sleeping.flush(hub)
        sleeping.sleep_idle(hub)
    except Exception:  # sleeping is housekeeping: it must not stop supervision
        log.exception("putting idle instances to sleep failed")
    if sweep:
        sweep_orphans(hub)
        try:
            layers.collect_unused(hub)
            prune_space_checkouts(hub)
        except Exception:  # housekeeping: it must not stop supervision
            log.exception("removing unused requirements layers or space checkouts failed")


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
    known |= hub.compute.claimed_keys()
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
