"""Fine-tune instances (OpenCSG's flow): a named place on a model with its cluster, tier, runtime framework
and training settings, where its owner starts a training run (a job), stops it, and chats with the base
model or the result. CSGHub's API and csghub-cli call these "finetune" deploys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict, InvalidArgument, NotFound
from csghub.core.names import RepoId, RepoType
from csghub.db.models import FinetuneInstance, FinetuneJob, Namespace, utcnow
from csghub.services.context import Hub
from csghub.services.finetune import jobs
from csghub.services.finetune.records import ACTIVE, JobView, check_name, loads, owned_by, view_of, visible
from csghub.services.permissions import Action, Actor, FinetuneResource, authorize, can, require_account
from csghub.services.repositories.repos import get_repo

SETTINGS = ("dataset", "train_file", "eval_file", "mapping", "parameters", "parameter_group", "merge")
# CSGHub's deploy statuses, as csghub-cli and the portal show them.
STOPPED, DEPLOYING, RUNNING = "Stopped", "Deploying", "Running"


@dataclass(frozen=True, slots=True)
class InstanceView:
    id: int
    owner: str
    name: str
    model: str
    cluster_id: int
    tier_id: int
    framework_id: int
    settings: dict[str, Any]
    status: str  # Stopped | Deploying | Running
    last_job: JobView | None
    created_at: datetime


def _view(session: Session, row: FinetuneInstance) -> InstanceView:
    namespace = session.get(Namespace, row.namespace_id)
    last = session.scalars(
        select(FinetuneJob).where(FinetuneJob.instance_id == row.id).order_by(FinetuneJob.id.desc())
    ).first()
    status = STOPPED
    if last is not None and last.state in ACTIVE:
        status = RUNNING if last.state == "running" else DEPLOYING
    return InstanceView(
        id=row.id,
        owner=namespace.name if namespace else "",
        name=row.name,
        model=row.model,
        cluster_id=row.cluster_id,
        tier_id=row.tier_id,
        framework_id=row.framework_id,
        settings=loads(row.settings, {}),
        status=status,
        last_job=view_of(session, last) if last is not None else None,
        created_at=row.created_at,
    )


def _visible(session: Session, actor: Actor, instance_id: int, action: Action = Action.READ) -> FinetuneInstance:
    return visible(session, actor, FinetuneInstance, instance_id, "fine-tune instance", action)


def check_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(SETTINGS))
    if unknown:
        raise InvalidArgument(f"Unknown fine-tune settings: {', '.join(unknown)} (known: {', '.join(SETTINGS)})")
    return dict(values)


def create_instance(
    hub: Hub,
    actor: Actor,
    model: RepoId,
    name: str,
    *,
    cluster_id: int | None = None,
    tier_id: int | None = None,
    framework_id: int | None = None,
    settings: Mapping[str, Any] | None = None,
) -> InstanceView:
    require_account(actor, "create a fine-tune instance")
    check_name(name, "instance")
    owner = actor.name
    authorize(actor, Action.WRITE, FinetuneResource(owner, f"the fine-tunes of {owner}"))
    repo = get_repo(hub, actor, RepoType.MODEL, model, Action.DOWNLOAD)
    placed_cluster, placed_tier, placed_framework, _ = jobs.placement(
        hub,
        jobs.JobRequest(
            name=name, model=str(model), dataset="", cluster_id=cluster_id, tier_id=tier_id, framework_id=framework_id
        ),
    )
    try:
        with hub.db() as session:
            namespace_id = owned_by(session, owner)
            row = FinetuneInstance(
                namespace_id=namespace_id,
                name=name,
                name_key=name,
                model_repo_id=repo.id,
                model=str(repo.full_name),
                cluster_id=placed_cluster,
                tier_id=placed_tier,
                framework_id=placed_framework,
                settings=json.dumps(check_settings(settings or {})),
                created_by=actor.user_id,
            )
            session.add(row)
            session.flush()
            return _view(session, row)
    except IntegrityError:
        raise Conflict(f"A fine-tune instance named '{name}' already exists", code="FinetuneExists") from None


def get_instance(hub: Hub, actor: Actor, instance_id: int, model: RepoId | None = None) -> InstanceView:
    with hub.db() as session:
        row = _visible(session, actor, instance_id)
        if model is not None and row.model.lower() != str(model).lower():
            raise NotFound(f"Not found: fine-tune instance #{instance_id} of {model}", code="FinetuneNotFound")
        return _view(session, row)


def list_instances(
    hub: Hub, actor: Actor, *, owner: str | None = None, model: RepoId | None = None
) -> list[InstanceView]:
    with hub.db() as session:
        stmt = select(FinetuneInstance, Namespace.name).join(Namespace, FinetuneInstance.namespace_id == Namespace.id)
        if owner is not None:
            stmt = stmt.where(Namespace.name_key == owner.lower())
        if model is not None:
            stmt = stmt.where(func.lower(FinetuneInstance.model) == str(model).lower())
        found = session.execute(stmt.order_by(FinetuneInstance.id.desc()).limit(1000)).all()
        return [
            _view(session, row)
            for row, namespace in found
            if can(actor, Action.READ, FinetuneResource(namespace, f"fine-tune instance #{row.id}"))
        ]


def update_instance(
    hub: Hub, actor: Actor, instance_id: int, settings: Mapping[str, Any], model: RepoId | None = None
) -> InstanceView:
    """Change the settings the next Start uses (a run in progress keeps its own)."""
    get_instance(hub, actor, instance_id, model)
    checked = check_settings(settings)
    with hub.db() as session:
        row = _visible(session, actor, instance_id, Action.WRITE)
        row.settings = json.dumps({**loads(row.settings, {}), **checked})
        row.updated_at = utcnow()
        return _view(session, row)


def start_instance(hub: Hub, actor: Actor, instance_id: int, model: RepoId | None = None) -> InstanceView:
    """Start a training run with the instance's settings (a no-op while one runs)."""
    view = get_instance(hub, actor, instance_id, model)
    with hub.db() as session:
        _visible(session, actor, instance_id, Action.WRITE)
        runs = session.scalar(select(func.count()).where(FinetuneJob.instance_id == instance_id)) or 0
    if view.status != STOPPED:
        return view
    settings = view.settings
    if not settings.get("dataset"):
        raise InvalidArgument("Choose the dataset to train on in the instance's settings first")
    number = runs + 1
    while True:
        name = f"{view.name[:50]}-run{number}"
        try:
            jobs.create_job(
                hub,
                actor,
                jobs.JobRequest(
                    name=name,
                    model=view.model,
                    dataset=str(settings["dataset"]),
                    train_file=settings.get("train_file") or None,
                    eval_file=settings.get("eval_file") or None,
                    mapping=settings.get("mapping") or {},
                    parameters=settings.get("parameters") or {},
                    parameter_group=settings.get("parameter_group") or None,
                    cluster_id=view.cluster_id,
                    tier_id=view.tier_id,
                    framework_id=view.framework_id,
                    merge=bool(settings.get("merge", False)),
                    owner=view.owner,
                    instance_id=view.id,
                ),
            )
            break
        except Conflict:
            number += 1  # a job or repository of that name exists: the next number
            if number > runs + 100:
                raise
    return get_instance(hub, actor, instance_id)


def stop_instance(hub: Hub, actor: Actor, instance_id: int, model: RepoId | None = None) -> InstanceView:
    view = get_instance(hub, actor, instance_id, model)
    with hub.db() as session:
        _visible(session, actor, instance_id, Action.WRITE)
    if view.last_job is not None and view.last_job.state in ACTIVE:
        jobs.cancel_job(hub, actor, view.last_job.id)
    return get_instance(hub, actor, instance_id)


def delete_instance(hub: Hub, actor: Actor, instance_id: int, model: RepoId | None = None) -> None:
    """Stops its run; its finished runs and the models they pushed stay."""
    stop_instance(hub, actor, instance_id, model)
    with hub.db() as session:
        session.delete(_visible(session, actor, instance_id, Action.WRITE))
