"""The sync tasks' state machine: queueing one, moving it along, ending it, retrying it with backoff.

A mirror has at most one active task; asking for another while one is active returns that one. An
attempt that failed for a cause that may pass is queued again after 30 s, 60 s, ... (capped), up to
MAX_ATTEMPTS; its reason is stored and logged once, when the task finally fails, never per attempt
or per object (one 403 must not flood the log)."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict
from csghub.db.models import Mirror, MirrorTask, utcnow
from csghub.services.mirrors.records import ACTIVE, CANCELLED, FAILED, FINISHED, QUEUED

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
BACKOFF_CAP_S = 600
REASON_MAX = 4000


def backoff_seconds(attempt: int, base: int) -> int:
    """The wait before attempt `attempt + 1`: base, 2 * base, 4 * base ... at most BACKOFF_CAP_S."""
    return int(min(base * 2 ** max(attempt - 1, 0), BACKOFF_CAP_S))


def active_task(session: Session, mirror_id: int) -> MirrorTask | None:
    return session.scalar(
        select(MirrorTask).where(MirrorTask.mirror_id == mirror_id, MirrorTask.state.in_(ACTIVE)).limit(1)
    )


def latest_task(session: Session, mirror_id: int) -> MirrorTask | None:
    return session.scalar(
        select(MirrorTask).where(MirrorTask.mirror_id == mirror_id).order_by(MirrorTask.id.desc()).limit(1)
    )


def queue_task(session: Session, mirror: Mirror, trigger: str, user_id: int | None) -> MirrorTask:
    """The mirror's active task, or a new queued one."""
    found = active_task(session, mirror.id)
    if found is not None:
        return found
    task = MirrorTask(mirror_id=mirror.id, state=QUEUED, trigger=trigger, created_by=user_id, reason="")
    task.attempts = task.bytes_done = task.bytes_total = task.files_done = task.files_total = 0
    task.handle = ""
    session.add(task)
    session.flush()
    return task


def retry_failed(session: Session, task: MirrorTask) -> MirrorTask:
    """A new task for the mirror of an ended one (failed or cancelled), asked for by hand."""
    if task.state in ACTIVE:
        raise Conflict(f"Task {task.id} is still {task.state}; cancel it first")
    mirror = session.get(Mirror, task.mirror_id)
    assert mirror is not None  # a task goes with its mirror (ON DELETE CASCADE)
    return queue_task(session, mirror, "retry", task.created_by)


def settle(session: Session, task: MirrorTask, state: str, reason: str = "") -> None:
    """End `task` as finished, failed or cancelled, and reflect it on its mirror."""
    now = utcnow()
    task.state, task.reason, task.handle = state, reason[:REASON_MAX], ""
    task.finished_at = task.updated_at = now
    task.next_attempt_at = None
    mirror = session.get(Mirror, task.mirror_id)
    if mirror is None:
        return
    if state == FINISHED:
        mirror.last_error, mirror.last_synced_at = "", now
    elif state == FAILED:
        mirror.last_error = task.reason
        one_line = " ".join(reason.split())[:300]  # git's stderr spans lines: one record, one line
        log.warning("mirror %s (%s): sync task %s failed: %s", mirror.id, mirror.upstream_id, task.id, one_line)
    schedule_next(mirror)
    mirror.updated_at = now


def schedule_next(mirror: Mirror) -> None:
    """When the scheduler syncs the mirror next: one interval from now; never when paused or by hand only."""
    if mirror.paused or mirror.interval_seconds <= 0 or mirror.mode != "sync":
        mirror.next_sync_at = None
    else:
        mirror.next_sync_at = utcnow() + timedelta(seconds=mirror.interval_seconds)


def attempt_failed(session: Session, task: MirrorTask, reason: str, *, lasting: bool, base_s: int) -> None:
    """An attempt ended without a result: retry later when the cause may pass, else fail now."""
    if lasting or task.attempts >= MAX_ATTEMPTS:
        suffix = f" (after {task.attempts} attempts)" if task.attempts > 1 and not lasting else ""
        settle(session, task, FAILED, reason + suffix)
        return
    task.state, task.handle, task.updated_at = QUEUED, "", utcnow()
    task.reason = reason[:REASON_MAX]  # shown while it waits; logged only if the last attempt fails too
    task.next_attempt_at = utcnow() + timedelta(seconds=backoff_seconds(task.attempts, base_s))


def cancel(session: Session, task: MirrorTask) -> None:
    if task.state not in ACTIVE:
        raise Conflict(f"Task {task.id} already ended ({task.state})")
    settle(session, task, CANCELLED, "Cancelled")
