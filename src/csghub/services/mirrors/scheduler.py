"""The mirrors' one background loop: it queues a task for every mirror that is due, starts queued tasks
while their source has fewer than its `max_concurrency` running, follows the running ones (progress,
results, lost processes) and imports what they fetched.

Jobs run on this machine's compute runner as batch work, so they survive a restart of the hub: a running
task keeps the runner's Handle and the runner re-adopts its process; a job that ended while the hub was
down is finished from the result it left, and one that was lost is started again in the same work
folder, where it resumes its partial downloads."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select

import csghub
from csghub.core.errors import HubError, NotFound
from csghub.db.models import Mirror, MirrorSource, MirrorTask, utcnow
from csghub.runtime.base import (
    PYTHON,
    Environment,
    Handle,
    ProcessSpec,
    ProcessState,
    Resources,
    Runner,
    RunnerError,
    WorkKind,
)
from csghub.services.background import run_passes
from csghub.services.context import Hub
from csghub.services.mirrors import sync, tasks
from csghub.services.mirrors.job import LASTING_CODES, PROGRESS, RESULT
from csghub.services.mirrors.records import FINISHED, LFS, QUEUED, REPO_SYNCED, RUNNING, STARTED

log = logging.getLogger(__name__)
KEY_PREFIX = "mirror-sync-"
# A pass is a few indexed queries. A sync asked for (created, synced now, retried) rings the doorbell and
# starts at once; while tasks run, their end is seen within BUSY_SECONDS; an idle hub asks once a second
# (a due schedule starts within it).
BUSY_SECONDS, IDLE_SECONDS = 0.25, 1.0
LOG_TAIL = 2000
# The job runs the hub's own code with the hub's interpreter: git and httpx are the hub's too.
HUB_ENVIRONMENT = Environment(name="hub", version="1", packages=("httpx",), python_path=sys.executable)
# ... and the very code the hub imported (an installed package or a source tree), whatever the job's
# minimal environment says.
HUB_CODE = str(Path(csghub.__file__).resolve().parents[1])


async def supervise(hub: Hub) -> None:
    """The mirrors' background task."""

    def one_pass() -> float:
        return BUSY_SECONDS if tick(hub) else IDLE_SECONDS

    await run_passes("mirror scheduling", one_pass, after_failure=IDLE_SECONDS, doorbell=hub.mirror_doorbell)


def tick(hub: Hub) -> bool:
    """One pass; True while tasks run or wait to start."""
    started = _task_ids(hub, STARTED)
    for task_id in started:
        _check(hub, task_id)
    schedule_due(hub)
    return start_queued(hub) > 0 or bool(started)


def run_pending(hub: Hub, *, timeout: float = 300.0) -> None:
    """Run every queued task to its end in this process's turn (tests, and hubs without the loop)."""
    deadline = time.monotonic() + timeout
    while True:
        tick(hub)
        with hub.db() as session:
            busy = session.scalar(select(func.count()).where(MirrorTask.state.in_((QUEUED, *STARTED))))
        if not busy:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"Mirror tasks still running after {timeout:g} s")
        time.sleep(0.05)


def running_keys(hub: Hub) -> set[str]:
    """The process keys of running jobs (the compute supervisor's orphan sweep leaves them alone)."""
    with hub.db() as session:
        texts = session.scalars(select(MirrorTask.handle).where(MirrorTask.handle != ""))
        return {json.loads(t)["handle"]["key"] for t in texts}


def schedule_due(hub: Hub) -> int:
    """A `schedule` task for each mirror due now (not paused, none active); returns how many."""
    now = utcnow()
    with hub.db() as session:
        due = list(
            session.scalars(
                select(Mirror).where(Mirror.next_sync_at.is_not(None), Mirror.next_sync_at <= now, ~Mirror.paused)
            )
        )
        queued = 0
        for mirror in due:
            if tasks.active_task(session, mirror.id) is None:
                tasks.queue_task(session, mirror, "schedule", None)
                queued += 1
            mirror.next_sync_at = None  # the task's end schedules the next one
        return queued


def start_queued(hub: Hub) -> int:
    """Start queued tasks while their source runs fewer than its max_concurrency; how many were waiting."""
    now = utcnow()
    with hub.db() as session:
        running = dict(
            session.execute(
                select(Mirror.source_id, func.count())
                .join(MirrorTask, MirrorTask.mirror_id == Mirror.id)
                .where(MirrorTask.state.in_(STARTED))
                .group_by(Mirror.source_id)
            ).all()
        )
        waiting = session.execute(
            select(MirrorTask.id, Mirror.source_id, MirrorSource.max_concurrency, MirrorSource.bandwidth_bytes_per_s)
            .join(Mirror, Mirror.id == MirrorTask.mirror_id)
            .join(MirrorSource, MirrorSource.id == Mirror.source_id)
            .where(MirrorTask.state == QUEUED)
            .where(or_(MirrorTask.next_attempt_at.is_(None), MirrorTask.next_attempt_at <= now))
            .order_by(MirrorTask.id)
        ).all()
    chosen = []
    for task_id, source_id, limit, bandwidth in waiting:
        if running.get(source_id, 0) < max(limit, 1):
            running[source_id] = running.get(source_id, 0) + 1
            chosen.append((task_id, source_id, bandwidth))
    for task_id, source_id, bandwidth in chosen:
        # The source's bandwidth is shared by its jobs: each gets its part of it when it starts.
        _start(hub, task_id, bandwidth // running[source_id] if bandwidth else 0)
    return len(waiting)


def _task_ids(hub: Hub, states: tuple[str, ...]) -> list[int]:
    with hub.db() as session:
        return list(session.scalars(select(MirrorTask.id).where(MirrorTask.state.in_(states)).order_by(MirrorTask.id)))


def _runner(hub: Hub) -> Runner:
    return hub.compute.local_runner()


def stop_job(hub: Hub, handle: Handle) -> None:
    try:
        _runner(hub).stop(handle, grace=2.0)
    except RunnerError as exc:
        log.warning("could not stop mirror job %s: %s", handle.key, exc)


def job_key(task_id: int, attempt: int) -> str:
    return f"{KEY_PREFIX}{task_id}-{attempt}"


def read_job_log(hub: Hub, key: str, limit: int) -> bytes:
    """The last `limit` bytes of a job's output (the local runner keeps it after the job ends)."""
    runner = _runner(hub)
    handle = Handle(runner.name, key, "")
    text, offset = b"", 0
    while chunk := runner.read_log(handle, offset, 1 << 20):
        text = (text + chunk)[-limit:]
        offset += len(chunk)
    return text


def _start(hub: Hub, task_id: int, bandwidth: int) -> None:
    with hub.db() as session:
        task = session.get(MirrorTask, task_id)
        if task is None or task.state != QUEUED:
            return
        mirror_id, attempt = task.mirror_id, task.attempts + 1
        task.attempts, task.started_at, task.updated_at = attempt, task.started_at or utcnow(), utcnow()
    key = job_key(task_id, attempt)
    try:
        work, env = sync.prepare(hub, mirror_id, bandwidth)
        spec = ProcessSpec(
            key=key,
            kind=WorkKind.BATCH,
            argv=(PYTHON, "-m", "csghub.services.mirrors.job", str(work)),
            environment=HUB_ENVIRONMENT,
            # Two busy threads: the socket's reader and the spool that hashes and writes (upstream.py).
            # Pinned to one CPU they take turns, and a loopback transfer runs at half speed.
            resources=Resources(cpus=2, memory_mb=1024),
            env={**env, "PYTHONPATH": HUB_CODE},
        )
        handle = _runner(hub).start(spec)
    except HubError as exc:  # the source is gone, the runner cannot start it
        with hub.db() as session:
            task = session.get(MirrorTask, task_id)
            if task is not None:
                tasks.attempt_failed(session, task, str(exc), lasting=False, base_s=hub.settings.mirror_retry_seconds)
        return
    with hub.db() as session:
        task = session.get(MirrorTask, task_id)
        if task is None or task.state != QUEUED:  # cancelled or deleted meanwhile
            _runner(hub).stop(handle, grace=2.0)
            return
        task.state, task.updated_at = RUNNING, utcnow()
        task.handle = json.dumps({"handle": json.loads(handle.to_text()), "work": str(work)})
    log.info("mirror %s: sync task %s started (%s)", mirror_id, task_id, key)


def _check(hub: Hub, task_id: int) -> None:
    with hub.db() as session:
        task = session.get(MirrorTask, task_id)
        if task is None or task.state not in STARTED:
            return
        job = json.loads(task.handle) if task.handle else None
        mirror_id = task.mirror_id
    base_s = hub.settings.mirror_retry_seconds
    if job is None:  # a hub that stopped between marking and starting
        _fail(hub, task_id, "The sync was interrupted", lasting=False, base_s=0)
        return
    handle, work = Handle(**job["handle"]), Path(job["work"])
    try:
        runner = _runner(hub)
        status = runner.status(handle)
    except RunnerError as exc:
        log.warning("mirror task %s: cannot see its job: %s", task_id, exc)
        return
    if status.state is ProcessState.RUNNING:
        _progress(hub, task_id, work)
        return
    result_file = work / RESULT
    if not result_file.exists():
        if status.state is ProcessState.LOST or status.exit_code is None:
            # Gone without a word (the machine went away while the hub was down): start it again at
            # once, in the same folder: its partial downloads are kept.
            _fail(
                hub, task_id, f"The sync's process was lost ({status.detail or status.state})", lasting=False, base_s=0
            )
            return
        tail = runner.read_log(handle, 0, 1 << 20)[-LOG_TAIL:].decode("utf-8", errors="replace").strip()
        reason = f"The sync stopped ({status.detail or 'exit status ' + str(status.exit_code)})"
        _fail(hub, task_id, f"{reason}: {tail}" if tail else reason, lasting=False, base_s=base_s)
        return
    try:
        result = json.loads(result_file.read_text())
    except ValueError:
        _fail(hub, task_id, "The sync's result is unreadable", lasting=False, base_s=base_s)
        return
    if result.get("error"):
        lasting = bool(result.get("lasting", result.get("code") in LASTING_CODES))
        _fail(hub, task_id, str(result["error"]), lasting=lasting, base_s=base_s)
        return
    _import(hub, task_id, mirror_id, work, result)


def _import(hub: Hub, task_id: int, mirror_id: int, work: Path, result: dict[str, Any]) -> None:
    try:
        head = sync.import_result(hub, mirror_id, work, result)
    except NotFound:
        return  # the repository went meanwhile: its mirror and tasks with it
    except sync.MissingObjects as exc:  # at once, in the same folder: what it fetched is kept
        _fail(hub, task_id, str(exc), lasting=False, base_s=0)
        return
    except HubError as exc:  # bytes the store refused, a ref update git refused
        _fail(hub, task_id, f"Importing the sync failed: {exc}", lasting=True, base_s=0)
        shutil.rmtree(work, ignore_errors=True)
        return
    with hub.db() as session:
        task = session.get(MirrorTask, task_id)
        mirror = session.get(Mirror, mirror_id)
        if task is None or mirror is None:
            return
        downloaded = result["downloaded"]
        task.files_done = task.files_total = len(downloaded)
        task.bytes_done = task.bytes_total = sum(int(size) for _oid, size in downloaded)
        mirror.last_commit = head or mirror.last_commit
        tasks.settle(session, task, FINISHED)
    shutil.rmtree(work, ignore_errors=True)
    log.info("mirror %s: synced at %s", mirror_id, (head or "-")[:12])


def _progress(hub: Hub, task_id: int, work: Path) -> None:
    try:
        progress = json.loads((work / PROGRESS).read_text())
    except (FileNotFoundError, ValueError):
        return
    state = progress.get("state")
    with hub.db() as session:
        task = session.get(MirrorTask, task_id)
        if task is None or task.state not in STARTED:
            return
        if state in (REPO_SYNCED, LFS):
            task.state = state
        task.files_total = int(progress.get("files_total", 0))
        task.bytes_total = int(progress.get("bytes_total", 0))
        task.files_done = int(progress.get("files_done", 0))
        task.bytes_done = min(sync.bytes_on_disk(work), task.bytes_total)
        task.updated_at = utcnow()


def _fail(hub: Hub, task_id: int, reason: str, *, lasting: bool, base_s: int) -> None:
    with hub.db() as session:
        task = session.get(MirrorTask, task_id)
        if task is None:
            return
        tasks.attempt_failed(session, task, reason, lasting=lasting, base_s=base_s)
        ended, mirror_id = task.state != QUEUED, task.mirror_id
    if ended:  # nothing of a failed sync is kept; a retry starts afresh
        shutil.rmtree(sync.work_dir(hub, mirror_id), ignore_errors=True)
