"""Experiments: one or more fine-tune tasks (each a job: base model + dataset + parameter group + cluster and
tier) created together and compared by one metric, before and after training, side by side."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict, HubError, InvalidArgument
from csghub.db.models import FinetuneExperiment, FinetuneJob, Namespace
from csghub.services.context import Hub
from csghub.services.finetune import jobs
from csghub.services.finetune.records import METRICS, JobView, check_name, owned_by, visible
from csghub.services.permissions import Action, Actor, FinetuneResource, authorize, can, require_account

MAX_TASKS = 10


@dataclass(frozen=True, slots=True)
class ExperimentView:
    id: int
    owner: str
    name: str
    description: str
    metric: str
    tasks: tuple[JobView, ...]  # ranked: the best by `metric` after training first, unfinished last
    created_at: datetime

    @property
    def state(self) -> str:
        states = {t.state for t in self.tasks}
        for state in ("running", "queued", "failed", "cancelled"):
            if state in states:
                return state
        return "succeeded" if states else "empty"


def rank(tasks: Sequence[JobView], metric: str) -> tuple[JobView, ...]:
    def score(task: JobView) -> tuple[int, float, int]:
        value = (task.metrics.get("after") or {}).get(metric)
        return (0, -float(value), task.id) if isinstance(value, int | float) else (1, 0.0, task.id)

    return tuple(sorted(tasks, key=score))


def _view(hub: Hub, actor: Actor, session: Session, row: FinetuneExperiment) -> ExperimentView:
    namespace = session.get(Namespace, row.namespace_id)
    tasks = jobs.list_jobs(hub, actor, experiment_id=row.id)
    return ExperimentView(
        id=row.id,
        owner=namespace.name if namespace else "",
        name=row.name,
        description=row.description,
        metric=row.metric,
        tasks=rank(tasks, row.metric),
        created_at=row.created_at,
    )


def _visible(session: Session, actor: Actor, experiment_id: int, action: Action = Action.READ) -> FinetuneExperiment:
    return visible(session, actor, FinetuneExperiment, experiment_id, "experiment", action)


def create_experiment(
    hub: Hub,
    actor: Actor,
    name: str,
    tasks: Sequence[jobs.JobRequest],
    *,
    metric: str = "rougeL",
    description: str = "",
    owner: str | None = None,
) -> ExperimentView:
    """The experiment and all its tasks, or nothing: a task that fails its checks names itself."""
    require_account(actor, "create an experiment")
    check_name(name, "experiment")
    owner = owner or actor.name
    authorize(actor, Action.WRITE, FinetuneResource(owner, f"the fine-tunes of {owner}"))
    if metric not in METRICS:
        raise InvalidArgument(f"Unknown metric '{metric}': expected one of {', '.join(METRICS)}")
    if not tasks or len(tasks) > MAX_TASKS:
        raise InvalidArgument(f"An experiment has 1 to {MAX_TASKS} tasks")
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise InvalidArgument("Each task of an experiment needs its own name")
    try:
        with hub.db() as session:
            namespace_id = owned_by(session, owner)
            row = FinetuneExperiment(
                namespace_id=namespace_id,
                name=name,
                name_key=name,
                description=description[:2000],
                metric=metric,
                created_by=actor.user_id,
            )
            session.add(row)
            session.flush()
            experiment_id = row.id
    except IntegrityError:
        raise Conflict(f"An experiment named '{name}' already exists in {owner}", code="FinetuneExists") from None
    created: list[int] = []
    try:
        for task in tasks:
            request = dataclasses.replace(task, owner=owner, experiment_id=experiment_id)
            try:
                created.append(jobs.create_job(hub, actor, request).id)
            except HubError as exc:
                exc.message = f"Task '{task.name}': {exc.message}"
                raise
    except BaseException:
        for job_id in created:
            jobs.delete_job(hub, actor, job_id)
        with hub.db() as session:
            found = session.get(FinetuneExperiment, experiment_id)
            if found is not None:
                session.delete(found)
        raise
    return get_experiment(hub, actor, experiment_id)


def get_experiment(hub: Hub, actor: Actor, experiment_id: int) -> ExperimentView:
    with hub.db() as session:
        return _view(hub, actor, session, _visible(session, actor, experiment_id))


def list_experiments(hub: Hub, actor: Actor, *, owner: str | None = None) -> list[ExperimentView]:
    with hub.db() as session:
        stmt = select(FinetuneExperiment, Namespace.name).join(
            Namespace, FinetuneExperiment.namespace_id == Namespace.id
        )
        if owner is not None:
            stmt = stmt.where(Namespace.name_key == owner.lower())
        found = session.execute(stmt.order_by(FinetuneExperiment.id.desc()).limit(500)).all()
        return [
            _view(hub, actor, session, row)
            for row, namespace in found
            if can(actor, Action.READ, FinetuneResource(namespace, f"experiment #{row.id}"))
        ]


def cancel_experiment(hub: Hub, actor: Actor, experiment_id: int) -> ExperimentView:
    with hub.db() as session:
        _visible(session, actor, experiment_id, Action.WRITE)
        ids = list(session.scalars(select(FinetuneJob.id).where(FinetuneJob.experiment_id == experiment_id)))
    for job_id in ids:
        jobs.cancel_job(hub, actor, job_id)
    return get_experiment(hub, actor, experiment_id)


def delete_experiment(hub: Hub, actor: Actor, experiment_id: int) -> None:
    """The experiment and its tasks; the model repositories they pushed stay."""
    with hub.db() as session:
        _visible(session, actor, experiment_id, Action.WRITE)
        ids = list(session.scalars(select(FinetuneJob.id).where(FinetuneJob.experiment_id == experiment_id)))
    for job_id in ids:
        jobs.delete_job(hub, actor, job_id)
    with hub.db() as session:
        row = session.get(FinetuneExperiment, experiment_id)
        if row is not None:
            session.delete(row)
