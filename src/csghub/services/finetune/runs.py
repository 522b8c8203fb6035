"""Running fine-tune jobs: queued -> running -> succeeded | failed | cancelled, one batch process per attempt
(runtime/workers/finetune_llamafactory.py in the `llamafactory` environment) on the job's cluster.

The work folder outlives attempts: a process that died without a result (killed, its machine restarted)
runs again on the same folder, and LLaMA-Factory resumes from the last checkpoint there, up to
MAX_ATTEMPTS. A hub restart loses nothing: the runner re-adopts a process still running, and one that
ended meanwhile is finished from what it left. Progress (step, loss, learning rate, eta) comes from the
trainer's own log, read while the job runs; the result is published as a model repository (outputs.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from csghub.core.errors import HubError
from csghub.db.models import FinetuneJob, RuntimeFramework, utcnow
from csghub.runtime import workers
from csghub.runtime.base import PYTHON, Handle, ProcessSpec, ProcessState, Resources, RunnerError, WorkKind
from csghub.services.background import run_passes
from csghub.services.compute import frameworks
from csghub.services.compute.clusters import get_tier, runner_for
from csghub.services.compute.launch import model_dir
from csghub.services.compute.tokens import mint_model_token
from csghub.services.context import Hub
from csghub.services.finetune import outputs
from csghub.services.finetune.records import (
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    loads,
    work_dir,
)

log = logging.getLogger(__name__)
KEY_PREFIX = "finetune-"
MAX_ATTEMPTS = 3
TICK_SECONDS = 1.0
LOG_TAIL = 4000
MAX_HISTORY = 2000  # points of the loss chart kept per job
TRAINER_LOG = Path("output") / "trainer_log.jsonl"
EVALUATION = {"before": True, "after": True, "max_samples": 200, "max_new_tokens": 64}


async def supervise(hub: Hub) -> None:
    """The fine-tunes' background task (app.py's lifespan starts it and cancels it on shutdown)."""
    await asyncio.to_thread(clean_leftovers, hub)

    def one_pass() -> float:
        tick(hub)
        return TICK_SECONDS

    await run_passes("fine-tune", one_pass, after_failure=TICK_SECONDS)


def run_pending(hub: Hub, *, timeout: float = 600.0) -> None:
    """Run every queued job to its end in this process's turn (tests, and hubs without the loop)."""
    deadline = time.monotonic() + timeout
    while True:
        frameworks.check_builds(hub)  # a live hub's compute supervisor does this
        tick(hub)
        with hub.db() as session:
            busy = session.scalar(select(func.count()).where(FinetuneJob.state.in_((QUEUED, RUNNING))))
        if not busy:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"Fine-tune jobs still running after {timeout:g} s")
        time.sleep(0.2)


def tick(hub: Hub) -> None:
    for job_id in _ids_in(hub, RUNNING):
        _check(hub, job_id)
    with hub.db() as session:
        running = session.scalar(select(func.count()).where(FinetuneJob.state == RUNNING, FinetuneJob.handle != ""))
    free = hub.settings.finetune_concurrency - (running or 0)
    for job_id in _ids_in(hub, QUEUED)[: max(0, free)]:
        _start(hub, job_id)


def running_keys(hub: Hub) -> set[str]:
    """The process keys of running jobs (the compute supervisor's orphan sweep leaves them alone)."""
    with hub.db() as session:
        texts = list(session.scalars(select(FinetuneJob.handle).where(FinetuneJob.handle != "")))
    return {json.loads(t)["key"] for t in texts}


def clean_leftovers(hub: Hub) -> None:
    """Remove work folders no job owns (a job deleted while the hub was down, a creation cut short)."""
    root = hub.settings.finetune_dir
    if not root.is_dir():
        return
    with hub.db() as session:
        owned = {f"job-{i}" for i in session.scalars(select(FinetuneJob.id))}
    for folder in root.iterdir():
        if folder.is_dir() and folder.name != "logs" and folder.name not in owned:
            shutil.rmtree(folder, ignore_errors=True)


def stop_process(hub: Hub, cluster_id: int, handle_text: str) -> None:
    handle = Handle.from_text(handle_text)
    if handle is None:
        return
    try:
        runner_for(hub, cluster_id).stop(handle, grace=5.0)
    except RunnerError as exc:
        log.warning("could not stop fine-tune process %s: %s", handle.key, exc)


def read_log(hub: Hub, job_id: int, cluster_id: int, handle_text: str, offset: int = 0) -> bytes:
    """The running attempt's output, or the kept log of the last attempt once the job has ended."""
    handle = Handle.from_text(handle_text)
    if handle is not None:
        try:
            return runner_for(hub, cluster_id).read_log(handle, offset)
        except RunnerError:
            return b""
    kept = _log_file(hub, job_id)
    if not kept.is_file():
        return b""
    with open(kept, "rb") as fh:
        fh.seek(offset)
        return fh.read(1 << 20)


def _log_file(hub: Hub, job_id: int) -> Path:
    return hub.settings.finetune_dir / "logs" / f"job-{job_id}.log"


def _ids_in(hub: Hub, state: str) -> list[int]:
    with hub.db() as session:
        return list(session.scalars(select(FinetuneJob.id).where(FinetuneJob.state == state).order_by(FinetuneJob.id)))


def _framework_state(hub: Hub, framework_id: int) -> tuple[str, str]:
    """ "ready", or why not yet ("building") or never ("failed: ...")."""
    with hub.db() as session:
        row = session.get(RuntimeFramework, framework_id)
        if row is None or not row.enabled:
            return "failed", "its runtime framework was removed or disabled"
        state, reason = row.state, row.reason
    if state == "absent":
        frameworks.request_build(hub, framework_id)
        return "building", ""
    if state == "failed":
        return "failed", f"its runtime framework failed to build: {reason}"
    return state, ""


def _start(hub: Hub, job_id: int) -> None:
    with hub.db() as session:
        row = session.get(FinetuneJob, job_id)
        if row is None or row.state != QUEUED:
            return
        job = {c.name: getattr(row, c.name) for c in FinetuneJob.__table__.columns}
    if job["base_repo_id"] is None or job["created_by"] is None:
        gone = "its base model was deleted" if job["base_repo_id"] is None else "its creator's account was deleted"
        _end(hub, job_id, FAILED, error=f"The job cannot start: {gone}")
        return
    state, reason = _framework_state(hub, job["framework_id"])
    if state == "building":
        _set(hub, job_id, phase="building")
        return
    if state == "failed":
        _end(hub, job_id, FAILED, error=f"The job cannot start: {reason}")
        return
    work = work_dir(hub, job_id)
    try:
        if not (work / "train.json").is_file():
            raise RunnerError("Its training data is gone (the work folder was removed)")
        spec = _spec(hub, job, work)
        handle = runner_for(hub, job["cluster_id"]).start(spec)
    except HubError as exc:
        _end(hub, job_id, FAILED, error=str(exc))
        return
    with hub.db() as session:
        row = session.get(FinetuneJob, job_id)
        if row is None or row.state != QUEUED:  # cancelled or deleted meanwhile
            runner_for(hub, job["cluster_id"]).stop(handle, grace=2.0)
            return
        row.state, row.phase, row.error, row.handle = RUNNING, "starting", "", handle.to_text()
        row.attempts += 1
        row.started_at = row.started_at or utcnow()
        row.updated_at = utcnow()
    log.info("fine-tune job %s: attempt %s started (%s)", job_id, job["attempts"] + 1, spec.key)


def _spec(hub: Hub, job: dict[str, Any], work: Path) -> ProcessSpec:
    with hub.db() as session:
        framework = frameworks.framework_view(session.get(RuntimeFramework, job["framework_id"]))  # type: ignore[arg-type]
    data = loads(job["data"], {})
    document = {
        "base": {
            "repo": job["base_model"],
            "revision": job["base_commit"],
            "local_dir": str(model_dir(hub, job["base_repo_id"], job["base_commit"])),
        },
        "data": {
            "format": data.get("format", "alpaca"),
            "train": "train.json",
            "eval": "eval.json" if (work / "eval.json").is_file() else None,
        },
        "parameters": loads(job["resolved"], {}).get("args", {}),
        "evaluate": EVALUATION,
        "merge": bool(job["merge"]),
    }
    partial = work / "job.json.partial"
    partial.write_text(json.dumps(document, indent=1))
    partial.rename(work / "job.json")
    tier = get_tier(hub, job["tier_id"])
    token = mint_model_token(hub, job["created_by"], (job["base_repo_id"],))
    return ProcessSpec(
        key=f"{KEY_PREFIX}{job['id']}-a{job['attempts'] + 1}",
        kind=WorkKind.BATCH,
        argv=(PYTHON, str(workers.script("finetune_llamafactory")), str(work)),
        environment=frameworks.environment_of(hub, framework),
        resources=Resources(cpus=tier.cpus, memory_mb=tier.memory_mb, gpus=tier.gpus, gpu_type=tier.gpu_type),
        env={"HF_ENDPOINT": hub.compute.hub_url, "HF_TOKEN": token},
    )


def _check(hub: Hub, job_id: int) -> None:
    with hub.db() as session:
        row = session.get(FinetuneJob, job_id)
        if row is None or row.state != RUNNING:
            return
        handle, cluster_id = Handle.from_text(row.handle), row.cluster_id
        started, attempts = row.started_at, row.attempts
    if handle is None:  # waiting for its runtime framework's build
        _requeue(hub, job_id)
        return
    work = work_dir(hub, job_id)
    try:
        runner = runner_for(hub, cluster_id)
        status = runner.status(handle)
    except RunnerError as exc:
        log.warning("fine-tune job %s: cannot see its process: %s", job_id, exc)
        return
    if status.state is ProcessState.RUNNING:
        elapsed = (utcnow() - started).total_seconds() if started else 0.0
        if elapsed > hub.settings.finetune_timeout:
            runner.stop(handle, grace=5.0)
            _keep_log(hub, job_id, runner, handle)
            limit = hub.settings.finetune_timeout
            _end(hub, job_id, FAILED, error=f"The job ran longer than {limit} s (setting finetune_timeout)")
            shutil.rmtree(work, ignore_errors=True)
        else:
            _progress(hub, job_id, work)
        return
    _progress(hub, job_id, work)
    _keep_log(hub, job_id, runner, handle)
    result_file = work / "result.json"
    if not result_file.is_file():
        why = status.detail or (f"exit status {status.exit_code}" if status.exit_code is not None else "lost")
        if attempts < MAX_ATTEMPTS and work.is_dir():
            log.warning("fine-tune job %s: its process ended without a result (%s); resuming", job_id, why)
            _requeue(hub, job_id, note=f"attempt {attempts} ended without a result ({why}); resuming")
            return
        tail = frameworks.tail_text(runner.read_log(handle, 0, 1 << 20)[-LOG_TAIL:])
        _end(hub, job_id, FAILED, error=f"The training process stopped ({why}) {attempts} times. {tail}".strip())
        shutil.rmtree(work, ignore_errors=True)
        return
    _finish(hub, job_id, work)


def _finish(hub: Hub, job_id: int, work: Path) -> None:
    try:
        result = json.loads((work / "result.json").read_text())
    except ValueError:
        result = {"error": "The job's result is unreadable"}
    if not isinstance(result, dict) or result.get("error"):
        error = str(result.get("error")) if isinstance(result, dict) else "The job's result is unreadable"
        _end(hub, job_id, FAILED, error=error, train=_get(result, "train"), metrics=_get(result, "metrics"))
        shutil.rmtree(work, ignore_errors=True)
        return
    _set(hub, job_id, phase="publishing", handle="")
    try:
        repo_id = outputs.publish(hub, job_id, work, result)
    except HubError as exc:
        _end(hub, job_id, FAILED, error=f"Publishing the model failed: {exc}", metrics=_get(result, "metrics"))
        return
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _end(hub, job_id, SUCCEEDED, train=_get(result, "train"), metrics=_get(result, "metrics"), output=repo_id)
    log.info("fine-tune job %s: succeeded, published as repository %s", job_id, repo_id)


def _get(result: Any, key: str) -> dict[str, Any]:
    value = result.get(key) if isinstance(result, dict) else None
    return value if isinstance(value, dict) else {}


def _progress(hub: Hub, job_id: int, work: Path) -> None:
    """The trainer's last logged step (and the chart's points), and the worker's phase."""
    phase = ""
    with contextlib.suppress(FileNotFoundError, ValueError, AttributeError):
        phase = str(json.loads((work / "phase.json").read_text()).get("phase", ""))
    points: list[list[float]] = []
    last: dict[str, Any] = {}
    try:
        with open(work / TRAINER_LOG, "rb") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line being written
                if isinstance(entry, dict) and "current_steps" in entry:
                    last = entry
                    if "loss" in entry:
                        points.append([entry["current_steps"], entry["loss"], entry.get("lr", 0.0)])
    except FileNotFoundError:
        pass
    progress = {
        "step": last.get("current_steps", 0),
        "total": last.get("total_steps", 0),
        "loss": last.get("loss"),
        "learning_rate": last.get("lr"),
        "epoch": last.get("epoch"),
        "percentage": last.get("percentage", 0.0),
        "elapsed": last.get("elapsed_time", ""),
        "eta": last.get("remaining_time", ""),
    }
    if len(points) > MAX_HISTORY:
        stride = len(points) / MAX_HISTORY
        points = [points[int(i * stride)] for i in range(MAX_HISTORY)] + [points[-1]]
    changes: dict[str, Any] = {}
    if phase:
        changes["phase"] = phase
    if last:
        changes["progress"] = json.dumps(progress)
        changes["history"] = json.dumps(points)
    if changes:
        _set(hub, job_id, **changes)


def _keep_log(hub: Hub, job_id: int, runner: Any, handle: Handle) -> None:
    """Append the attempt's output to the job's kept log (read once the job has ended)."""
    target = _log_file(hub, job_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = frameworks.log_tail(runner, handle, 4 << 20)
    except RunnerError:
        return
    with open(target, "ab") as fh:
        fh.write(f"===== {handle.key} =====\n".encode())
        fh.write(data)


def _set(hub: Hub, job_id: int, **changes: Any) -> None:
    with hub.db() as session:
        row = session.get(FinetuneJob, job_id)
        if row is None:
            return
        for key, value in changes.items():
            setattr(row, key, value)
        row.updated_at = utcnow()


def _requeue(hub: Hub, job_id: int, note: str = "") -> None:
    with hub.db() as session:
        row = session.get(FinetuneJob, job_id)
        if row is None or row.state != RUNNING:
            return
        row.state, row.handle, row.updated_at = QUEUED, "", utcnow()
        row.phase = "resuming" if note else ""


def _end(
    hub: Hub,
    job_id: int,
    state: str,
    *,
    error: str = "",
    train: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    output: int | None = None,
) -> None:
    with hub.db() as session:
        row = session.get(FinetuneJob, job_id)
        if row is None:
            return
        row.state, row.phase, row.handle, row.error = state, "", "", error[:8000]
        if train:
            row.train = json.dumps(train)
        if metrics:
            row.metrics = json.dumps(metrics)
        if output is not None:
            row.output_repo_id = output
        row.finished_at = row.updated_at = utcnow()
    if state == FAILED:
        log.warning("fine-tune job %s failed: %s", job_id, error[:300])
