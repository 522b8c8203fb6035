"""Sleeping after idle time: an instance whose spec sets "sleep_seconds" (a space; 0 = never) is stopped
into sleep that long after it last served a request, and woken by the next one (services/spaces.wake).
The proxy reports each request with touch(), which only notes the time in memory; the supervisor writes
those times to the records at most once a minute and puts the idle ones to sleep."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

from sqlalchemy import select

from csghub.db.models import ComputeInstance, utcnow
from csghub.services.compute import instances
from csghub.services.compute.replicas import stop_replicas
from csghub.services.context import Hub

FLUSH_SECONDS = 60.0
SLEEPING = "sleeping"  # spec["stopped_as"] of an instance put to sleep (else "paused" or "stopped")


def touch(hub: Hub, instance_id: int) -> None:
    """A request reached the instance (cheap: a dict write, no lock, no database)."""
    hub.compute.activity[instance_id] = time.time()


def last_active(hub: Hub, row: ComputeInstance) -> datetime:
    """When it last served a request, or began running (whichever is later)."""
    seen = hub.compute.activity.get(row.id)
    times = [row.updated_at, row.active_at or row.updated_at]
    if seen is not None:
        times.append(_utc(seen))
    return max(times)


def _utc(stamp: float) -> datetime:
    return utcnow() - timedelta(seconds=max(0.0, time.time() - stamp))


def flush(hub: Hub, *, force: bool = False) -> None:
    """The noted request times into the records (at most once a minute unless forced)."""
    now = time.monotonic()
    if not force and now - hub.compute.activity_flushed < FLUSH_SECONDS:
        return
    hub.compute.activity_flushed = now
    seen, hub.compute.activity = hub.compute.activity, {}
    if not seen:
        return
    with hub.db() as session:
        for instance_id, stamp in seen.items():
            row = session.get(ComputeInstance, instance_id)
            at = _utc(stamp)
            if row is not None and (row.active_at is None or row.active_at < at):
                row.active_at = at  # updated_at stays: activity is no change of the record


def sleep_idle(hub: Hub) -> list[int]:
    """Put to sleep the running instances idle past their sleep time; their ids."""
    with hub.db() as session:
        rows = session.scalars(
            select(ComputeInstance).where(
                ComputeInstance.desired == "running", ComputeInstance.spec.like('%"sleep_seconds"%')
            )
        ).all()
        due = []
        for row in rows:
            seconds = int(json.loads(row.spec or "{}").get("sleep_seconds") or 0)
            if (
                seconds > 0
                and row.state == instances.RUNNING
                and utcnow() - last_active(hub, row) > timedelta(seconds=seconds)
            ):
                due.append((row.id, seconds))
    slept = []
    for instance_id, seconds in due:
        with hub.compute.lock(instance_id):
            with hub.db() as session:
                found = session.get(ComputeInstance, instance_id)
                if found is None or found.desired != "running" or found.state != instances.RUNNING:
                    continue
                found.desired = "stopped"  # first, as a stop does: no supervisor restarts it meanwhile
                spec = json.loads(found.spec or "{}")
                found.spec = json.dumps({**spec, "stopped_as": SLEEPING})
            stop_replicas(hub, instance_id)
            with hub.db() as session:
                stopped = session.get(ComputeInstance, instance_id)
                if stopped is not None:
                    instances.move(session, stopped, instances.STOPPED, f"sleeping after {seconds} s without a visit")
            hub.compute.activity.pop(instance_id, None)
            hub.compute.routes.clear()
            slept.append(instance_id)
    return slept
