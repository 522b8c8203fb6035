"""A space's life: every push to its default branch (git, commit API, web edit, upload) rebuilds it on
the new commit (hub.ref_listeners calls on_ref_update), and its owners run, stop, pause, restart and
factory-rebuild it; a visit wakes a sleeping one (wake, called by the app's door). The supervisor
(services/compute) does the rest: the environment, the replica, its health, sleeping when idle."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict, NotFound
from csghub.db.models import ComputeInstance, ComputeReplica, ComputeTier, Repo, RuntimeFramework, utcnow
from csghub.runtime import frameworks as builtin_frameworks
from csghub.runtime.base import RunnerError
from csghub.services.compute import idle, instances, layers
from csghub.services.compute.clusters import LOCAL_CLUSTER_ID
from csghub.services.compute.idle import SLEEPING
from csghub.services.compute.replicas import stop_replicas
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor
from csghub.services.repositories.repos import RepoView, get_repo_by_id
from csghub.services.spaces import config as space_config
from csghub.services.spaces.records import (
    CONFIG_ERROR,
    KIND,
    PAUSED,
    STOPPED,
    SpaceView,
    app_path,
    find_instance,
    space_repo,
    spec_of,
    view_of,
)

log = logging.getLogger(__name__)


def touch(hub: Hub, instance_id: int) -> None:
    """A request reached the space's app (the proxy calls it for each): its idle time starts again."""
    idle.touch(hub, instance_id)


def on_ref_update(hub: Hub, repo_id: int, refs: Sequence[str]) -> None:
    """writes.after_ref_update's listener: a space's default branch moved, so it rebuilds on the new head."""
    try:
        repo = get_repo_by_id(hub, repo_id)
    except NotFound:
        return
    if repo.type.value == KIND and f"refs/heads/{repo.default_branch}" in refs:
        sync(hub, repo, "a push")


def on_repo_delete(hub: Hub, repo_id: int) -> None:
    """repos.delete_repo's listener: a deleted space's app stops and its record goes with the repository."""
    with hub.db() as session:
        row = find_instance(session, repo_id)
        instance_id = row.id if row is not None else 0
    if instance_id:
        _remove(hub, instance_id)


def sync(hub: Hub, repo: RepoView, by: str) -> None:
    """Make the space's instance follow its default branch's head: created, rebuilt on the new commit,
    or removed when the README no longer declares an sdk this hub runs."""
    head = hub.git(repo.id).ref_target(f"refs/heads/{repo.default_branch}") or ""
    if not head:
        return
    found = space_config.read_config(repo, space_config.snapshot_at(hub, repo, head))
    error = found.error
    if found.sdk in space_config.RUNTIME_SDKS and not error:
        try:
            builtin_frameworks.space_environment(found.sdk, found.requirements)
        except RunnerError as exc:  # a line pip must never see (an option, a URL, another torch)
            error = f"requirements.txt: {exc.message}"
    stale: list[int] = []
    with hub.db() as session:
        row = find_instance(session, repo.id)
        other = instances.find_row(session, KIND, repo.namespace, repo.name)
        if other is not None and other is not row:  # left by a deleted space of the same name
            stale.append(other.id)
        if not found.sdk and row is not None:
            stale.append(row.id)
    for instance_id in stale:
        _remove(hub, instance_id)
    if not found.sdk:
        return
    fields = {
        "model": repo.full_name,
        "sdk": found.sdk,
        "app_file": found.app_file,
        "base_url": app_path(repo.namespace, repo.name),
        "static": found.sdk == "static",
        "requirements": list(found.requirements),
        "models": list(found.models),
        "datasets": list(found.datasets),
        "notes": list(found.notes),
        "config_error": error,
    }
    with hub.db() as session:
        row = find_instance(session, repo.id)
        halted = _apply(hub, session, repo, row, head, fields, by)
        made = find_instance(session, repo.id)
        instance_id = made.id if made is not None else 0
    if halted and instance_id:
        with hub.compute.lock(instance_id):
            stop_replicas(hub, instance_id)


def _framework_id(session: Session, sdk: str) -> int | None:
    name = sdk if sdk in space_config.RUNTIME_SDKS else "gradio"  # a static space's is never built
    found = session.scalar(
        select(RuntimeFramework.id).where(RuntimeFramework.name == name).order_by(RuntimeFramework.id.desc())
    )
    return found if found is not None else session.scalar(select(RuntimeFramework.id).order_by(RuntimeFramework.id))


def _default_tier(session: Session) -> int | None:
    return session.scalar(
        select(ComputeTier.id)
        .where(ComputeTier.cluster_id == LOCAL_CLUSTER_ID, ComputeTier.enabled.is_(True))
        .order_by(ComputeTier.gpus, ComputeTier.id)
    )


def _apply(
    hub: Hub, session: Session, repo: RepoView, row: ComputeInstance | None, head: str, fields: dict[str, Any], by: str
) -> bool:
    """Create or update the record; True when what it ran must stop (it became static, or broke)."""
    framework_id, static = _framework_id(session, str(fields["sdk"])), bool(fields["static"])
    namespace_id = session.scalar(select(Repo.namespace_id).where(Repo.id == repo.id))
    if namespace_id is None:
        return False  # deleted meanwhile
    if framework_id is None:
        log.warning("space %s cannot run: this hub has no runtime frameworks yet", repo.full_name)
        return False
    if row is None:
        tier_id = _default_tier(session)
        if tier_id is None:
            log.warning("space %s cannot run: the local cluster has no enabled tier", repo.full_name)
            return False
        creator = session.scalar(select(Repo.created_by).where(Repo.id == repo.id))
        sleep = 0 if static else hub.settings.space_sleep_seconds
        row = ComputeInstance(
            kind=KIND,
            namespace_id=namespace_id,
            name=repo.name,
            name_key=repo.name.lower(),
            created_by=creator,
            repo_id=repo.id,
            cluster_id=LOCAL_CLUSTER_ID,
            tier_id=tier_id,
            min_replicas=1,
            max_replicas=1,
            visibility=repo.visibility,
            spec=json.dumps({"sleep_seconds": sleep, "allow_token": False}),
            desired="running",
            state=instances.PENDING,
            generation=0,
        )
        session.add(row)
    spec = {**spec_of(row), **fields}
    # A renamed or moved space keeps its record: its name and address follow the repository's.
    row.name, row.name_key, row.namespace_id = repo.name, repo.name.lower(), namespace_id
    if static:
        spec["sleep_seconds"] = 0
    row.framework_id, row.revision, row.commit = framework_id, repo.default_branch, head
    row.visibility, row.generation, row.updated_at = repo.visibility, (row.generation or 0) + 1, utcnow()
    session.flush()
    instances.add_event(session, row.id, f"{by} moved it to {head[:12]} ({fields['sdk']})")
    if spec.get("stopped_as") == PAUSED:
        row.spec = json.dumps(spec)
        return False  # paused stays paused: the owner's run starts the new commit
    spec.pop("stopped_as", None)
    row.spec, row.desired = json.dumps(spec), "running"
    if fields["config_error"]:
        row.state, row.reason = instances.FAILED, f"{CONFIG_ERROR}{fields['config_error']}"
    elif static:
        row.state, row.reason = instances.RUNNING, ""
    else:
        row.state, row.reason = instances.PENDING, ""
    instances.add_event(session, row.id, f"{row.state}: {row.reason}" if row.reason else row.state)
    hub.compute.routes.clear()
    return bool(static or fields["config_error"])


def _remove(hub: Hub, instance_id: int) -> None:
    with hub.db() as session:
        # Recorded first, as a stop does: a supervisor in another process starts no replica meanwhile.
        row = session.get(ComputeInstance, instance_id)
        if row is not None:
            row.desired = "stopped"
    with hub.compute.lock(instance_id):
        stop_replicas(hub, instance_id, forget=True)
        with hub.db() as session:
            row = session.get(ComputeInstance, instance_id)
            if row is not None:
                session.delete(row)
    hub.compute.routes.clear()


def live_instance(hub: Hub, actor: Actor, owner: str, name: str, action: Action) -> tuple[RepoView, int]:
    repo = space_repo(hub, actor, owner, name, action)
    with hub.db() as session:
        row = find_instance(session, repo.id)
        if row is None:
            raise Conflict(f"Space {repo.full_name} declares no sdk this hub runs", code="SpaceNotRunnable")
        return repo, row.id


def current_view(hub: Hub, repo: RepoView) -> SpaceView:
    with hub.db() as session:
        return view_of(session, repo, find_instance(session, repo.id))


def start(hub: Hub, repo: RepoView, instance_id: int, why: str, *, rebuild: bool = False) -> SpaceView:
    """Run it (again): a stopped, sleeping, paused or failed one starts; `rebuild` also starts a running
    one afresh (a new generation replaces its replica)."""
    with hub.db() as session:
        row = session.get(ComputeInstance, instance_id)
        if row is None:
            raise NotFound(f"Space {repo.full_name} not found", code="RepoNotFound")
        spec = spec_of(row)
        live = row.desired == "running" and row.state not in (instances.STOPPED, instances.FAILED)
        if live and not rebuild:
            return view_of(session, repo, row)
        if row.state == instances.FAILED and str(spec.get("config_error") or ""):
            return view_of(session, repo, row)  # nothing to run until a push fixes its configuration
        spec.pop("stopped_as", None)
        row.spec, row.desired = json.dumps(spec), "running"
        if spec.get("static"):
            row.state, row.reason = instances.RUNNING, ""
        else:
            if not live:
                for replica in session.scalars(select(ComputeReplica).where(ComputeReplica.instance_id == row.id)):
                    session.delete(replica)
            row.generation += 1
            row.state, row.reason = instances.PENDING, ""
        row.updated_at = utcnow()
        instances.add_event(session, row.id, f"{row.state}: {why}")
        hub.compute.plans.pop(row.id, None)
        hub.compute.routes.clear()
        return view_of(session, repo, row)


def halt(hub: Hub, repo: RepoView, instance_id: int, stopped_as: str, why: str) -> SpaceView:
    """Stopped (by its owner), paused (until its owner runs it) or asleep (until a visit)."""
    with hub.db() as session:
        row = session.get(ComputeInstance, instance_id)
        if row is None:
            raise NotFound(f"Space {repo.full_name} not found", code="RepoNotFound")
        # Recorded first, as an endpoint's stop does: a supervisor in another process restarts nothing.
        row.desired = "stopped"
        row.spec = json.dumps({**spec_of(row), "stopped_as": stopped_as})
    with hub.compute.lock(instance_id):
        stop_replicas(hub, instance_id)
        with hub.db() as session:
            row = session.get(ComputeInstance, instance_id)
            if row is None:
                raise NotFound(f"Space {repo.full_name} not found", code="RepoNotFound")
            if row.state != instances.STOPPED:
                instances.move(session, row, instances.STOPPED, why)
            else:
                row.updated_at = utcnow()
            hub.compute.routes.clear()
            return view_of(session, repo, row)


def run_space(hub: Hub, actor: Actor, owner: str, name: str) -> SpaceView:
    repo, instance_id = live_instance(hub, actor, owner, name, Action.MANAGE)
    return start(hub, repo, instance_id, f"run by {actor.name}")


def stop_space(hub: Hub, actor: Actor, owner: str, name: str) -> SpaceView:
    repo, instance_id = live_instance(hub, actor, owner, name, Action.MANAGE)
    return halt(hub, repo, instance_id, STOPPED, f"stopped by {actor.name}")


def pause_space(hub: Hub, actor: Actor, owner: str, name: str) -> SpaceView:
    """Stopped until its owner runs it again: neither a visit nor a push starts it."""
    repo, instance_id = live_instance(hub, actor, owner, name, Action.MANAGE)
    return halt(hub, repo, instance_id, PAUSED, f"paused by {actor.name}")


def restart_space(hub: Hub, actor: Actor, owner: str, name: str, *, factory: bool = False) -> SpaceView:
    """Start it afresh on its commit; `factory` first removes its requirements' environment, which is
    then built again from scratch (the SDK's shared environment stays)."""
    repo, instance_id = live_instance(hub, actor, owner, name, Action.MANAGE)
    if factory:
        with hub.db() as session:
            row = session.get(ComputeInstance, instance_id)
            spec = spec_of(row) if row is not None else {}
        requirements = tuple(str(r) for r in spec.get("requirements", ()))
        if requirements and spec.get("sdk") in space_config.RUNTIME_SDKS:
            halt(hub, repo, instance_id, STOPPED, f"factory rebuild by {actor.name}")
            layer = builtin_frameworks.space_environment(str(spec["sdk"]), requirements)
            layers.remove(hub, layer)
    why = f"{'factory rebuild' if factory else 'restarted'} by {actor.name}"
    return start(hub, repo, instance_id, why, rebuild=True)


def wake(hub: Hub, actor: Actor, owner: str, name: str) -> SpaceView:
    """A visit: a sleeping space starts again (anyone who can read it wakes it); others are left as they are."""
    repo = space_repo(hub, actor, owner, name)
    with hub.db() as session:
        row = find_instance(session, repo.id)
        if row is None:
            return view_of(session, repo, None)
        asleep = row.desired != "running" and spec_of(row).get("stopped_as") == SLEEPING
        if not asleep:
            return view_of(session, repo, row)
        instance_id = row.id
    idle.touch(hub, instance_id)
    return start(hub, repo, instance_id, f"woken by a visit of {actor.name or 'an anonymous visitor'}")
