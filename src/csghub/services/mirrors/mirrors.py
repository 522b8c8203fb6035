"""Mirrors: local repositories kept in sync with a repository of another hub (a mirror source).

Owns the `mirrors` rows and their tasks as users see them: create one (a new local repository, read-only
to users, and its first sync), sync now, pause, change the interval, delete (the repository stays and
becomes writable), list them, and cancel or retry a task. Who may do what: creating needs the setting
`mirror_creators` ("admins": site administrators only; "users": anyone who may create repositories in
the target namespace); a mirror's settings, syncs and tasks need administration of its repository."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from csghub.core.errors import InvalidArgument, NotFound
from csghub.core.names import RepoId, RepoType
from csghub.db.models import Mirror, MirrorSource, MirrorTask, Namespace, Repo, utcnow
from csghub.runtime.base import Handle
from csghub.services.context import Hub
from csghub.services.mirrors import scheduler, sources, tasks
from csghub.services.mirrors.records import (
    ACTIVE,
    STATES,
    BatchSpec,
    MirrorSpec,
    MirrorView,
    TaskView,
    mirror_view,
    task_view,
)
from csghub.services.permissions import SITE, Action, Actor, authorize, can
from csghub.services.repositories import repos

MIN_INTERVAL_S = 60  # shorter ones would hammer the upstream; 0 = by hand only
MAX_INTERVAL_S = 366 * 86400
MAX_PAGE = 200
LOG_LIMIT = 256 * 1024  # a task's log as the API shows it: the tail, one job's lines are a few dozen


def check_interval(seconds: int) -> int:
    if seconds != 0 and not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S:
        raise InvalidArgument(
            f"A mirror's interval is 0 (sync by hand only) or {MIN_INTERVAL_S} to {MAX_INTERVAL_S} seconds"
        )
    return seconds


def find_source(session: Session, id_or_name: str) -> MirrorSource:
    if id_or_name.isascii() and id_or_name.isdigit():
        # A number past any id finds nothing (and never reaches the database as an out-of-range integer).
        source = session.get(MirrorSource, int(id_or_name)) if len(id_or_name) <= 9 else None
    else:
        source = session.scalar(select(MirrorSource).where(MirrorSource.name == id_or_name[:64]))
    if source is None:
        raise NotFound(f"Mirror source not found: {id_or_name}", code="MirrorSourceNotFound")
    return source


def check_may_create(hub: Hub, actor: Actor) -> None:
    if hub.settings.mirror_creators == "admins" and not actor.is_admin:
        authorize(actor, Action.ADMIN, SITE)  # a site administrator's action: says so to everyone else


def create_mirror(hub: Hub, actor: Actor, spec: MirrorSpec, *, trigger: str = "create") -> MirrorView:
    check_may_create(hub, actor)
    upstream = RepoId.parse(spec.upstream)
    target = RepoId.parse(spec.repo) if spec.repo else upstream
    check_interval(spec.interval_seconds)
    with hub.db() as session:
        source_id = find_source(session, spec.source).id
    view = repos.create_repo(hub, actor, spec.repo_type, target, visibility=spec.visibility)
    with hub.db() as session:
        mirror = Mirror(
            repo_id=view.id,
            source_id=source_id,
            upstream_type=spec.repo_type.value,
            upstream_id=str(upstream),
            mode="sync",
            interval_seconds=spec.interval_seconds,
            paused=False,
            created_by=actor.user_id,
            last_commit="",
            last_error="",
        )
        session.add(mirror)
        session.flush()
        tasks.queue_task(session, mirror, trigger, actor.user_id)
        mirror_id = mirror.id
    hub.mirror_doorbell.ring()
    return _view_of(hub, mirror_id)


def create_batch(hub: Hub, actor: Actor, spec: BatchSpec) -> list[MirrorView]:
    """One mirror per upstream id; all or nothing is checked first (names, source, rights), then each is
    created in turn (a name taken meanwhile fails that one with Conflict, after the others)."""
    check_may_create(hub, actor)
    upstreams = list(spec.upstreams)
    if spec.upstream_namespace:
        upstreams += _listed(hub, spec)
    if not upstreams:
        raise InvalidArgument("A batch needs at least one upstream repository (none named, none listed)")
    if len(upstreams) > MAX_PAGE:
        raise InvalidArgument(f"A batch holds at most {MAX_PAGE} repositories")
    ids = [RepoId.parse(u) for u in upstreams]
    made = []
    for upstream in ids:
        target = f"{spec.namespace}/{upstream.name}" if spec.namespace else str(upstream)
        mirror = MirrorSpec(spec.source, str(upstream), spec.repo_type, target, spec.interval_seconds, spec.visibility)
        made.append(create_mirror(hub, actor, mirror, trigger="batch"))
    return made


def _listed(hub: Hub, spec: BatchSpec) -> list[str]:
    """What the source lists for the upstream namespace (one request per page, bounded)."""
    namespace = RepoId.parse(f"{spec.upstream_namespace}/x").namespace  # a valid name, or a 400
    with hub.db() as session:
        source_id = find_source(session, spec.source).id
    with sources.upstream(hub, source_id) as up:
        return up.list_repos(spec.repo_type.value, namespace, limit=MAX_PAGE + 1)


def _mirror_row(session: Session, repo_id: int, label: str) -> Mirror:
    mirror = session.scalar(select(Mirror).where(Mirror.repo_id == repo_id))
    if mirror is None:
        raise NotFound(f"{label} is not a mirror", code="MirrorNotFound")
    return mirror


def get_mirror(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId) -> MirrorView:
    view = repos.get_repo(hub, actor, repo_type, repo_id)
    with hub.db() as session:
        mirror_id = _mirror_row(session, view.id, view.resource.label).id
    return _view_of(hub, mirror_id)


def update_mirror(
    hub: Hub,
    actor: Actor,
    repo_type: RepoType,
    repo_id: RepoId,
    *,
    interval_seconds: int | None = None,
    paused: bool | None = None,
) -> MirrorView:
    view = repos.get_repo(hub, actor, repo_type, repo_id, Action.ADMIN)
    with hub.db() as session:
        mirror = _mirror_row(session, view.id, view.resource.label)
        if interval_seconds is not None:
            mirror.interval_seconds = check_interval(interval_seconds)
        if paused is not None:
            mirror.paused = paused
        tasks.schedule_next(mirror)
        mirror.updated_at = utcnow()
        mirror_id = mirror.id
    return _view_of(hub, mirror_id)


def delete_mirror(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId) -> None:
    """Stop mirroring: an active task is cancelled; the repository keeps its content and becomes writable."""
    view = repos.get_repo(hub, actor, repo_type, repo_id, Action.ADMIN)
    with hub.db() as session:
        mirror = _mirror_row(session, view.id, view.resource.label)
        task = tasks.active_task(session, mirror.id)
        handle = task.handle if task is not None else ""
        session.delete(mirror)
    _stop(hub, handle)


def sync_now(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId) -> TaskView:
    view = repos.get_repo(hub, actor, repo_type, repo_id, Action.ADMIN)
    with hub.db() as session:
        mirror = _mirror_row(session, view.id, view.resource.label)
        task = tasks.queue_task(session, mirror, "manual", actor.user_id)
        queued = task_view(task, view.type, view.full_name)
    hub.mirror_doorbell.ring()
    return queued


def _authorized_task(hub: Hub, actor: Actor, session: Session, task_id: int) -> MirrorTask:
    task = session.get(MirrorTask, task_id)
    if task is not None and not actor.is_admin:
        mirror = session.get(Mirror, task.mirror_id)
        repo = repos.get_repo_by_id(hub, mirror.repo_id) if mirror is not None else None
        if repo is None or not can(actor, Action.ADMIN, repo.resource):
            task = None  # another's task is not found, as a repository one may not read is
    if task is None:
        raise NotFound(f"Mirror task not found: {task_id}", code="MirrorTaskNotFound")
    return task


def cancel_task(hub: Hub, actor: Actor, task_id: int) -> TaskView:
    with hub.db() as session:
        task = _authorized_task(hub, actor, session, task_id)
        handle = task.handle
        tasks.cancel(session, task)
        task_id = task.id
    _stop(hub, handle)
    return get_task(hub, task_id)


def retry_task(hub: Hub, actor: Actor, task_id: int) -> TaskView:
    with hub.db() as session:
        task = _authorized_task(hub, actor, session, task_id)
        task_id = tasks.retry_failed(session, task).id
    hub.mirror_doorbell.ring()
    return get_task(hub, task_id)


def task_log(hub: Hub, actor: Actor, task_id: int, *, limit: int = LOG_LIMIT) -> str:
    """What the task's sync jobs printed, attempt by attempt (the tail when long), to those who may see
    the task. The jobs print no token (it reaches them in the environment) and no signed download URL."""
    with hub.db() as session:
        attempts = _authorized_task(hub, actor, session, task_id).attempts
    parts = []
    for attempt in range(1, attempts + 1):
        text = scheduler.read_job_log(hub, scheduler.job_key(task_id, attempt), limit).decode("utf-8", "replace")
        parts.append(f"--- attempt {attempt} ---\n{text}" if attempts > 1 else text)
    return "".join(parts)[-limit:]


def get_task(hub: Hub, task_id: int) -> TaskView:
    with hub.db() as session:
        found = session.execute(_task_query().where(MirrorTask.id == task_id)).first()
        if found is None:
            raise NotFound(f"Mirror task not found: {task_id}", code="MirrorTaskNotFound")
        return _task_of(found)


def list_mirrors(
    hub: Hub,
    actor: Actor,
    *,
    source: str | None = None,
    state: str | None = None,
    page: int = 1,
    per_page: int = 50,
    every: bool = False,
) -> tuple[list[MirrorView], int]:
    """Mirrors the actor can see (`every`: all of them, for site administrators), newest first, with the
    total; `state` filters on the latest task's state."""
    if every:
        authorize(actor, Action.ADMIN, SITE)
    if state is not None and state not in STATES:
        raise InvalidArgument(f"Invalid state '{state}': expected one of {', '.join(STATES)}")
    with hub.db() as session:
        query = select(Mirror.id, Mirror.repo_id).order_by(Mirror.id.desc())
        if source:
            query = query.where(Mirror.source_id == find_source(session, source).id)
        rows = list(session.execute(query))
    ids = [mid for mid, repo_id in rows if every or _readable(hub, actor, repo_id)]
    views = [_view_of(hub, mid) for mid in ids]
    if state is not None:
        views = [v for v in views if v.task is not None and v.task.state == state]
    start = (max(page, 1) - 1) * per_page
    return views[start : start + min(per_page, MAX_PAGE)], len(views)


def list_tasks(
    hub: Hub,
    actor: Actor,
    *,
    state: str | None = None,
    mirror_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[TaskView], int]:
    """Every mirror's sync tasks, newest first (site administrators only)."""
    authorize(actor, Action.ADMIN, SITE)
    if state is not None and state not in STATES:
        raise InvalidArgument(f"Invalid state '{state}': expected one of {', '.join(STATES)}")
    query = _task_query().order_by(MirrorTask.id.desc())
    if state is not None:
        query = query.where(MirrorTask.state == state)
    if mirror_id is not None:
        query = query.where(MirrorTask.mirror_id == mirror_id)
    per_page = min(max(per_page, 1), MAX_PAGE)
    with hub.db() as session:
        rows = list(session.execute(query))
    chosen = rows[(max(page, 1) - 1) * per_page :][:per_page]
    return [_task_of(r) for r in chosen], len(rows)


def active_states() -> Sequence[str]:
    return ACTIVE


# --- reading ---------------------------------------------------------------------------------------


def _readable(hub: Hub, actor: Actor, repo_id: int) -> bool:
    try:
        return repos.viewable(actor, repos.get_repo_by_id(hub, repo_id))
    except NotFound:
        return False


def _task_query() -> Select[MirrorTask, str, str, str]:
    return (
        select(MirrorTask, Repo.type, Namespace.name, Repo.name)
        .join(Mirror, Mirror.id == MirrorTask.mirror_id)
        .join(Repo, Repo.id == Mirror.repo_id)
        .join(Namespace, Namespace.id == Repo.namespace_id)
    )


def _task_of(found: Any) -> TaskView:
    task, repo_type, namespace, name = found
    return task_view(task, RepoType(repo_type), f"{namespace}/{name}")


def _view_of(hub: Hub, mirror_id: int) -> MirrorView:
    with hub.db() as session:
        found = session.execute(
            select(Mirror, MirrorSource.name, Repo.type, Namespace.name, Repo.name)
            .join(MirrorSource, MirrorSource.id == Mirror.source_id)
            .join(Repo, Repo.id == Mirror.repo_id)
            .join(Namespace, Namespace.id == Repo.namespace_id)
            .where(Mirror.id == mirror_id)
        ).first()
        if found is None:
            raise NotFound(f"Mirror not found: {mirror_id}", code="MirrorNotFound")
        mirror, source, repo_type, namespace, name = found
        task = tasks.active_task(session, mirror.id) or tasks.latest_task(session, mirror.id)
        return mirror_view(mirror, RepoType(repo_type), f"{namespace}/{name}", source, task)


def _stop(hub: Hub, handle_text: str) -> None:
    """Stop a task's job process (cancel, delete) and drop what it fetched."""
    if not handle_text:
        return
    job = json.loads(handle_text)
    scheduler.stop_job(hub, Handle(**job["handle"]))
    shutil.rmtree(job["work"], ignore_errors=True)
