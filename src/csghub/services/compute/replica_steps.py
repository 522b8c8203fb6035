"""One replica's way through a supervisor pass: started, health-checked until ready, restarted with
backoff when it dies or stops answering, and given up on when it keeps dying during start-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from csghub.db.models import ComputeReplica, utcnow
from csghub.runtime.base import Environment, Handle, ProcessState, Resources, Runner, RunnerError
from csghub.services.compute import frameworks, instances
from csghub.services.compute.frameworks import handle_of, handle_text, log_tail
from csghub.services.compute.launch import Launch, replica_spec
from csghub.services.context import Hub

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


def rep_of(row: ComputeReplica) -> Rep:
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


def new_replica(hub: Hub, instance_id: int, generation: int, index: int) -> Rep:
    with hub.db() as session:
        row = ComputeReplica(instance_id=instance_id, generation=generation, index=index, state="waiting")
        session.add(row)
        session.flush()
        return rep_of(row)


def save(hub: Hub, replica: Rep) -> None:
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


def event(hub: Hub, instance_id: int, message: str, *, level: str = "info") -> None:
    with hub.db() as session:
        instances.add_event(session, instance_id, message, level=level)


def _healthy(hub: Hub, url: str, path: str = "/health") -> bool:
    try:
        return hub.compute.health_client.get(f"{url}{path}", timeout=HEALTH_TIMEOUT).status_code == 200
    except httpx.HTTPError:
        return False


def step(hub: Hub, runner: Runner, replica: Rep, launch: Launch, environment: Environment, resources: Resources) -> str:
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
        event(hub, iid, f"replica {index} starting (attempt {replica.attempts})")
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
        if _healthy(hub, handle.url, launch.health_path):
            replica.state, replica.startup_failures = "healthy", 0
            hub.compute.misses.pop(handle.url, None)
            seconds = (now - replica.started_at).total_seconds() if replica.started_at else 0.0
            event(hub, iid, f"replica {index} is ready ({handle.url}, {seconds:.1f} s after its start)")
        elif replica.started_at is not None and (now - replica.started_at).total_seconds() > STARTUP_TIMEOUT:
            runner.stop(handle, grace=5.0)
            return _startup_failure(
                hub, replica, launch, f"did not answer {launch.health_path} within {STARTUP_TIMEOUT:.0f} s"
            )
        return ""
    # healthy
    if status.state is not ProcessState.RUNNING:
        return _restart(hub, replica, launch, f"exited ({status.detail or f'exit status {status.exit_code}'})")
    if _healthy(hub, handle.url, launch.health_path):
        hub.compute.misses.pop(handle.url, None)
        hub.compute.suspects.discard(handle.url)
        return ""
    misses = hub.compute.misses.get(handle.url, 0) + 1
    hub.compute.misses[handle.url] = misses
    if misses >= MAX_HEALTH_MISSES:
        runner.stop(handle, grace=5.0)
        hub.compute.misses.pop(handle.url, None)
        return _restart(hub, replica, launch, f"stopped answering {launch.health_path} ({misses} checks in a row)")
    return ""


def _restart(hub: Hub, replica: Rep, launch: Launch, why: str) -> str:
    replica.restarts += 1
    delay = backoff(replica.restarts)
    replica.state, replica.not_before = "waiting", utcnow() + timedelta(seconds=delay)
    if replica.handle is not None:
        hub.compute.suspects.discard(replica.handle.url)
    event(hub, launch.instance_id, f"replica {replica.index} {why}; restarting in {delay:.0f} s", level="warning")
    return ""


def _startup_failure(hub: Hub, replica: Rep, launch: Launch, why: str, tail: str = "") -> str:
    replica.startup_failures += 1
    message = f"replica {replica.index} {why}" + (f":\n{tail}" if tail else "")
    event(hub, launch.instance_id, message, level="error")
    if replica.startup_failures >= MAX_STARTUP_FAILURES:
        last = next((line for line in reversed(tail.splitlines()) if line.strip()), "")
        return f"replica {replica.index} {why}" + (f": {last.strip()}" if last else "")
    replica.state = "waiting"
    replica.not_before = utcnow() + timedelta(seconds=backoff(replica.startup_failures))
    return ""
