"""What the mirrors' records look like from outside: the views the API, the portal and the CLI render, the
specs they hand in, and the sync tasks' states.

A task moves queued -> running -> repo_synced (the upstream's git history is in the job's work folder)
-> lfs (its LFS objects are coming) -> finished; or it ends failed (with its reason) or cancelled. A
failed attempt whose cause may pass (the upstream unreachable, a lost process) goes back to queued with
`next_attempt_at` later; one that will not pass (404, 403, corrupt bytes) fails at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csghub.core.names import RepoType
from csghub.db.models import Mirror, MirrorTask

QUEUED, RUNNING, REPO_SYNCED, LFS = "queued", "running", "repo_synced", "lfs"
FINISHED, FAILED, CANCELLED = "finished", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING, REPO_SYNCED, LFS)  # a mirror has at most one task in these
STARTED = (RUNNING, REPO_SYNCED, LFS)  # its job's process is running (counts against the source's concurrency)
STATES = (*ACTIVE, FINISHED, FAILED, CANCELLED)
TRIGGERS = ("create", "manual", "schedule", "batch", "proxy", "retry")
MODES = ("sync", "cache")


@dataclass(frozen=True, slots=True)
class TaskView:
    id: int
    mirror_id: int
    repo_type: RepoType
    repo_id: str  # "ns/name" of the local repository
    state: str
    reason: str
    trigger: str
    attempts: int
    next_attempt_at: datetime | None
    bytes_done: int
    bytes_total: int
    files_done: int
    files_total: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class MirrorView:
    id: int
    repo_type: RepoType
    repo_id: str  # "ns/name" of the local repository
    source: str  # the source's name
    upstream_type: RepoType
    upstream_id: str
    mode: str
    interval_seconds: int
    paused: bool
    last_synced_at: datetime | None
    last_commit: str
    last_error: str
    next_sync_at: datetime | None
    task: TaskView | None  # the active task, else the latest one
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MirrorSpec:
    """A new mirror: `source` (name or id) and `upstream` ("ns/name" there) are copied into the local
    repository `repo` ("ns/name" here; the upstream's own name when empty)."""

    source: str
    upstream: str
    repo_type: RepoType = RepoType.MODEL
    repo: str = ""
    interval_seconds: int = 86400
    visibility: str = "public"


@dataclass(frozen=True, slots=True)
class BatchSpec:
    """Mirrors of several upstream repositories of one source, each into `namespace` (the upstream's own
    namespace when empty), under its upstream name."""

    source: str
    upstreams: tuple[str, ...]
    repo_type: RepoType = RepoType.MODEL
    namespace: str = ""
    interval_seconds: int = 86400
    visibility: str = "public"


def task_view(row: MirrorTask, repo_type: RepoType, repo_id: str) -> TaskView:
    return TaskView(
        id=row.id,
        mirror_id=row.mirror_id,
        repo_type=repo_type,
        repo_id=repo_id,
        state=row.state,
        reason=row.reason,
        trigger=row.trigger,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        bytes_done=row.bytes_done,
        bytes_total=row.bytes_total,
        files_done=row.files_done,
        files_total=row.files_total,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def mirror_view(row: Mirror, repo_type: RepoType, repo_id: str, source: str, task: MirrorTask | None) -> MirrorView:
    return MirrorView(
        id=row.id,
        repo_type=repo_type,
        repo_id=repo_id,
        source=source,
        upstream_type=RepoType(row.upstream_type),
        upstream_id=row.upstream_id,
        mode=row.mode,
        interval_seconds=row.interval_seconds,
        paused=row.paused,
        last_synced_at=row.last_synced_at,
        last_commit=row.last_commit,
        last_error=row.last_error,
        next_sync_at=row.next_sync_at,
        task=None if task is None else task_view(task, repo_type, repo_id),
        created_at=row.created_at,
    )
