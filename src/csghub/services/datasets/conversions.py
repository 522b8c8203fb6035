"""The dataset viewer's conversion jobs: one record per dataset repository (dataset_conversions), queued by
every push to its default branch, whatever door the push came through (writes.after_ref_update calls the
hub's ref listeners), and run as batch work on this machine's compute runner.

States: queued -> running -> ready | failed | empty; a newer push while a job runs queues the repository
again once the job ends. Jobs survive a restart of the hub: a running record keeps the runner's Handle,
the runner re-adopts its process, and a job that ended while the hub was down is finished from the
result it left (or run again when it left none, up to MAX_ATTEMPTS). A job past its time limit is
stopped and fails, saying which limit."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select

from csghub.core.errors import HubError, NotFound
from csghub.core.names import RepoType
from csghub.db.models import DatasetConversion, Repo, utcnow
from csghub.git.write_lock import WriteLockTimeout
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
from csghub.services.datasets import job_files
from csghub.services.datasets.catalog import EMPTY, FAILED, QUEUED, READY, RUNNING, catalog_json
from csghub.services.datasets.job import PROGRESS
from csghub.services.repositories.repos import get_repo_by_id, refresh_metadata
from csghub.services.repositories.writes import writing

log = logging.getLogger(__name__)
KEY_PREFIX = "dataset-convert-"
MAX_ATTEMPTS = 3
TICK_SECONDS = 1.0
LOG_TAIL = 4000
# The job runs the hub's own code with the hub's interpreter: DuckDB and pyarrow are the hub's dependencies.
HUB_ENVIRONMENT = Environment(name="hub", version="1", packages=("duckdb", "pyarrow"), python_path=sys.executable)


def on_ref_update(hub: Hub, repo_id: int, refs: Sequence[str]) -> None:
    """Called by writes.after_ref_update with the refs that moved: a dataset's default branch queues a job."""
    try:
        view = get_repo_by_id(hub, repo_id)
    except NotFound:
        return
    if view.type is RepoType.DATASET and f"refs/heads/{view.default_branch}" in refs:
        request_conversion(hub, repo_id)


def request_conversion(hub: Hub, repo_id: int) -> None:
    """Queue a conversion of the default branch's head (no-op when that commit is already converted)."""
    view = get_repo_by_id(hub, repo_id)
    head = hub.git(repo_id).ref_target(f"refs/heads/{view.default_branch}") or ""
    with hub.db() as session:
        row = session.get(DatasetConversion, repo_id)
        if row is None:
            row = DatasetConversion(repo_id=repo_id, catalog="{}", error="", handle="", state=QUEUED)
            row.source_sha = row.parquet_sha = ""
            row.progress_done = row.progress_total = row.attempts = 0
            session.add(row)
        elif row.wanted_sha == head and row.state != FAILED:
            return
        row.wanted_sha = head
        if row.state != RUNNING:
            row.state, row.error, row.attempts = QUEUED, "", 0
            row.progress_done = row.progress_total = 0
        row.updated_at = utcnow()


def backfill(hub: Hub) -> int:
    """Queue every dataset that has no record (created before the viewer existed); returns how many."""
    with hub.db() as session:
        ids = list(
            session.scalars(
                select(Repo.id)
                .outerjoin(DatasetConversion, DatasetConversion.repo_id == Repo.id)
                .where(Repo.type == RepoType.DATASET.value, DatasetConversion.repo_id.is_(None))
            )
        )
    for repo_id in ids:
        request_conversion(hub, repo_id)
    return len(ids)


def running_keys(hub: Hub) -> set[str]:
    """The process keys of running jobs (the compute supervisor's orphan sweep leaves them alone)."""
    with hub.db() as session:
        texts = session.scalars(select(DatasetConversion.handle).where(DatasetConversion.handle != ""))
        return {json.loads(t)["handle"]["key"] for t in texts}


def clean_work(hub: Hub) -> None:
    """Remove work folders no running job owns (a hub that died while preparing one left it)."""
    root = hub.settings.datasets_dir / "work"
    if not root.is_dir():
        return
    with hub.db() as session:
        texts = session.scalars(select(DatasetConversion.handle).where(DatasetConversion.handle != ""))
        owned = {json.loads(t)["work"] for t in texts}
    for folder in root.iterdir():
        if str(folder) not in owned:
            shutil.rmtree(folder, ignore_errors=True)


async def supervise(hub: Hub) -> None:
    """The conversions' background task (app.py's lifespan starts it and cancels it on shutdown)."""
    await asyncio.to_thread(clean_work, hub)
    await asyncio.to_thread(backfill, hub)

    def one_pass() -> float:
        tick(hub)
        return TICK_SECONDS

    await run_passes("dataset conversion", one_pass, after_failure=TICK_SECONDS)


def run_pending(hub: Hub, *, timeout: float = 300.0) -> None:
    """Run every queued conversion to its end, in this process's turn (tests, and hubs without the loop)."""
    deadline = time.monotonic() + timeout
    while True:
        tick(hub)
        with hub.db() as session:
            busy = session.scalar(select(func.count()).where(DatasetConversion.state.in_((QUEUED, RUNNING))))
        if not busy:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"Dataset conversions still running after {timeout:g} s")
        time.sleep(0.05)


def tick(hub: Hub) -> None:
    for repo_id in _ids_in(hub, RUNNING):
        _check(hub, repo_id)
    with hub.db() as session:
        running = session.scalar(select(func.count()).where(DatasetConversion.state == RUNNING)) or 0
    free = hub.settings.dataset_convert_concurrency - running
    for repo_id in _ids_in(hub, QUEUED)[: max(0, free)]:
        _start(hub, repo_id)


def _ids_in(hub: Hub, state: str) -> list[int]:
    with hub.db() as session:
        return list(
            session.scalars(
                select(DatasetConversion.repo_id)
                .where(DatasetConversion.state == state)
                .order_by(DatasetConversion.updated_at, DatasetConversion.repo_id)
            )
        )


def _runner(hub: Hub) -> Runner:
    return hub.compute.local_runner()


def _work_dir(hub: Hub, key: str) -> Path:
    return hub.settings.datasets_dir / "work" / key


def _spec(hub: Hub) -> dict[str, object]:
    settings = hub.settings
    threads = 2
    return {
        "shard_bytes": settings.dataset_shard_bytes,
        "memory_bytes": settings.dataset_convert_memory,
        "threads": threads,
        "stats_timeout": settings.dataset_convert_timeout,
    }


def _start(hub: Hub, repo_id: int) -> None:
    with hub.db() as session:
        row = session.get(DatasetConversion, repo_id)
        if row is None or row.state != QUEUED:
            return
        sha, attempt = row.wanted_sha, row.attempts + 1
        row.attempts, row.started_at, row.updated_at = attempt, utcnow(), utcnow()
    key = f"{KEY_PREFIX}{repo_id}-{sha[:12]}-{attempt}"
    work = _work_dir(hub, key)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        if not sha:
            prepared = job_files.Prepared(0, 0, job_files.NO_DATA)
        else:
            prepared = job_files.prepare(hub, get_repo_by_id(hub, repo_id), sha, work, _spec(hub))
        if prepared.empty:
            _finish(hub, repo_id, sha, EMPTY, prepared.empty)
            shutil.rmtree(work, ignore_errors=True)
            return
        memory_mb = hub.settings.dataset_convert_memory * 2 // (1024 * 1024) + 512  # DuckDB's limit, plus Arrow
        spec = ProcessSpec(
            key=key,
            kind=WorkKind.BATCH,
            argv=(PYTHON, "-m", "csghub.services.datasets.job", str(work)),
            environment=HUB_ENVIRONMENT,
            resources=Resources(cpus=2, memory_mb=memory_mb),
        )
        handle = _runner(hub).start(spec)
    except HubError as exc:  # a layout the README cannot describe, a runner that cannot start it
        _finish(hub, repo_id, sha, FAILED, str(exc))
        shutil.rmtree(work, ignore_errors=True)
        return
    with hub.db() as session:
        row = session.get(DatasetConversion, repo_id)
        if row is None:  # the dataset was deleted meanwhile
            _runner(hub).stop(handle, grace=2.0)
            shutil.rmtree(work, ignore_errors=True)
            return
        row.state, row.error = RUNNING, ""
        row.handle = json.dumps({"handle": json.loads(handle.to_text()), "sha": sha, "work": str(work)})
        row.progress_done, row.progress_total, row.updated_at = 0, prepared.splits, utcnow()
    log.info("dataset %s: converting %s (%s)", repo_id, sha[:12], key)


def _check(hub: Hub, repo_id: int) -> None:
    with hub.db() as session:
        row = session.get(DatasetConversion, repo_id)
        if row is None or row.state != RUNNING:
            return
        job = json.loads(row.handle) if row.handle else None
        started, attempts = row.started_at, row.attempts
    if job is None:  # a record from a hub that stopped between marking and starting
        _retry_or_fail(hub, repo_id, attempts, "The conversion was interrupted")
        return
    handle = Handle(**job["handle"])
    work = Path(job["work"])
    sha = job["sha"]
    try:
        runner = _runner(hub)
        status = runner.status(handle)
    except RunnerError as exc:
        log.warning("dataset %s: cannot see its conversion: %s", repo_id, exc)
        return
    if status.state is ProcessState.RUNNING:
        elapsed = (utcnow() - started).total_seconds() if started else 0.0
        if elapsed > hub.settings.dataset_convert_timeout:
            runner.stop(handle, grace=5.0)
            limit = hub.settings.dataset_convert_timeout
            _finish(
                hub,
                repo_id,
                sha,
                FAILED,
                f"The conversion took longer than {limit} s (setting dataset_convert_timeout)",
            )
            shutil.rmtree(work, ignore_errors=True)
        else:
            _progress(hub, repo_id, work)
        return
    result_file = work / "result.json"
    if status.state is ProcessState.LOST or (not result_file.exists() and status.exit_code is None):
        # Gone without a word (its node, or the machine, went away while the hub was down): run it again.
        shutil.rmtree(work, ignore_errors=True)
        _retry_or_fail(hub, repo_id, attempts, f"The conversion's process was lost ({status.detail or status.state})")
        return
    try:
        if not result_file.exists():
            tail = runner.read_log(handle, 0, 1 << 20)[-LOG_TAIL:].decode("utf-8", errors="replace").strip()
            reason = f"The conversion stopped ({status.detail or 'exit status ' + str(status.exit_code)})"
            _finish(hub, repo_id, sha, FAILED, f"{reason}: {tail}" if tail else reason)
            return
        result = job_files.read_result(work)
        if result.get("error"):
            _finish(hub, repo_id, sha, FAILED, str(result["error"]))
            return
        try:
            view = get_repo_by_id(hub, repo_id)
            parquet_sha, entries = job_files.publish(hub, view, sha, work, list(result["splits"]))
        except NotFound:
            return  # deleted while converting: its record went with it
        except HubError as exc:
            _finish(hub, repo_id, sha, FAILED, str(exc))
            return
        with hub.db() as session:
            row = session.get(DatasetConversion, repo_id)
            if row is None:
                return
            row.source_sha, row.parquet_sha = sha, parquet_sha
            row.catalog, row.num_rows = catalog_json(entries), sum(e.num_rows for e in entries)
            row.progress_done = row.progress_total = len(entries)
            _settle(row, sha, READY, "")
        _refresh_tags(hub, repo_id)  # the listings' tags: the size category of the rows just counted
        log.info("dataset %s: converted %s, %d split(s)", repo_id, sha[:12], len(entries))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _progress(hub: Hub, repo_id: int, work: Path) -> None:
    try:
        progress = json.loads((work / PROGRESS).read_text())
    except (FileNotFoundError, ValueError):
        return
    with hub.db() as session:
        row = session.get(DatasetConversion, repo_id)
        if row is not None and row.progress_done != progress.get("done"):
            row.progress_done = int(progress.get("done", 0))
            row.progress_total = int(progress.get("total", row.progress_total))


def _retry_or_fail(hub: Hub, repo_id: int, attempts: int, reason: str) -> None:
    with hub.db() as session:
        row = session.get(DatasetConversion, repo_id)
        if row is None:
            return
        row.handle, row.updated_at = "", utcnow()
        if attempts < MAX_ATTEMPTS:
            row.state, row.error = QUEUED, ""
            log.warning("dataset %s: %s; running it again", repo_id, reason)
        else:
            row.state, row.error = FAILED, f"{reason} ({attempts} attempts)"


def _finish(hub: Hub, repo_id: int, sha: str, state: str, error: str) -> None:
    """End a job that produced no shards: failed (with its readable error) or empty (no data files)."""
    with hub.db() as session:
        row = session.get(DatasetConversion, repo_id)
        if row is None:
            return
        if state == EMPTY:
            # Nothing to show for this commit: what an earlier commit had is no longer the dataset.
            row.source_sha, row.catalog, row.num_rows = sha, "{}", 0
        _settle(row, sha, state, error[:4000])
    # The listings' tags: an empty dataset has no size category; and a dataset queued by backfill (from
    # before the viewer) gets the tags of today's rules, whatever its conversion's outcome.
    _refresh_tags(hub, repo_id)
    if state == FAILED:
        log.warning("dataset %s: conversion of %s failed: %s", repo_id, sha[:12], error[:300])


def _settle(row: DatasetConversion, sha: str, state: str, error: str) -> None:
    """The job for `sha` ended in `state`; a newer push meanwhile queues the next one."""
    row.handle, row.updated_at = "", utcnow()
    if row.wanted_sha != sha:
        row.state, row.error, row.attempts = QUEUED, "", 0
    else:
        row.state, row.error = state, error


def _refresh_tags(hub: Hub, repo_id: int) -> None:
    """Refresh the repository's row (its tags count the rows) in turn with writers, as every refresh is: one
    unlocked could write an older head over a push's."""
    try:
        get_repo_by_id(hub, repo_id)
        with writing(hub, repo_id):
            refresh_metadata(hub, repo_id, touch=False)
    except NotFound:
        pass  # deleted meanwhile
    except WriteLockTimeout:  # a long push: its own refresh counts the rows then
        log.warning("dataset %s: tags not refreshed after its conversion (a write held the lock)", repo_id)
