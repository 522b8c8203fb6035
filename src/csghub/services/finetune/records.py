"""A fine-tune job's record as everything else reads it: its states, who may see it, names, the view, and
where its work folder is. Creating and changing jobs is jobs.py's; running them is runs.py's."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.core.errors import InvalidArgument, NotFound
from csghub.db.models import (
    ComputeCluster,
    ComputeTier,
    FinetuneExperiment,
    FinetuneInstance,
    FinetuneJob,
    FinetuneParameterGroup,
    Namespace,
    Repo,
    RuntimeFramework,
)
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, FinetuneResource, authorize

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)
ENDED = (SUCCEEDED, FAILED, CANCELLED)
# The seeds' rule for experiment and task names (DNS-label-like, so they can name repositories and pods).
_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
METRICS = ("exact_match", "bleu4", "rouge1", "rouge2", "rougeL")


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidArgument(
            f"Invalid {what} name {name!r}: use lowercase letters, digits and '-', beginning and ending with a "
            "letter or digit, at most 63 characters"
        )
    return name


def work_dir(hub: Hub, job_id: int) -> Path:
    """The job's folder for all its attempts: data, checkpoints (so a rerun resumes), results."""
    return hub.settings.finetune_dir / f"job-{job_id}"


def loads(text: str, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class JobView:
    id: int
    owner: str
    name: str
    model: str
    model_commit: str
    dataset: str
    dataset_commit: str
    data: dict[str, Any]  # {"train": path, "eval": path | None, "mapping": {...}, "format", "rows", ...}
    parameters: dict[str, Any]
    args: dict[str, Any]  # what LLaMA-Factory was given
    notes: tuple[str, ...]  # visible changes the hub made to what was asked (fp16 on a CPU, ...)
    cluster: str
    tier: str
    framework: str
    state: str
    phase: str
    progress: dict[str, Any]
    history: list[list[float]]
    metrics: dict[str, Any]
    train: dict[str, Any]
    error: str
    output: str  # "ns/name" of the model repository it pushes (or pushed)
    output_ready: bool
    merge: bool
    attempts: int
    experiment_id: int | None
    instance_id: int | None
    parameter_group_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def owned_by(session: Session, owner: str) -> int:
    """The id of the namespace a new record will belong to."""
    found = session.scalar(select(Namespace.id).where(Namespace.name_key == owner.lower()))
    if found is None:
        raise NotFound(f"Namespace '{owner}' not found")
    return found


def resource_of(session: Session, row: FinetuneJob) -> FinetuneResource:
    namespace = session.get(Namespace, row.namespace_id)
    return FinetuneResource(namespace.name if namespace else "", f"fine-tune job #{row.id}")


Owned = TypeVar("Owned", FinetuneJob, FinetuneParameterGroup, FinetuneExperiment, FinetuneInstance)


def visible(
    session: Session, actor: Actor, kind: type[Owned], record_id: int, what: str, action: Action = Action.READ
) -> Owned:
    """A fine-tuning record the actor may `action`; one it may not see does not exist (FinetuneNotFound)."""
    row = session.get(kind, record_id)
    if row is None:
        raise NotFound(f"Not found: {what} #{record_id}", code="FinetuneNotFound")
    namespace = session.get(Namespace, row.namespace_id)
    authorize(actor, action, FinetuneResource(namespace.name if namespace else "", f"{what} #{record_id}"))
    return row


def visible_job(session: Session, actor: Actor, job_id: int, action: Action = Action.READ) -> FinetuneJob:
    return visible(session, actor, FinetuneJob, job_id, "fine-tune job", action)


def view_of(session: Session, row: FinetuneJob) -> JobView:
    namespace = session.get(Namespace, row.namespace_id)
    cluster = session.get(ComputeCluster, row.cluster_id)
    tier = session.get(ComputeTier, row.tier_id)
    framework = session.get(RuntimeFramework, row.framework_id)
    resolved = loads(row.resolved, {})
    output_ready = row.output_repo_id is not None and session.get(Repo, row.output_repo_id) is not None
    return JobView(
        id=row.id,
        owner=namespace.name if namespace else "",
        name=row.name,
        model=row.base_model,
        model_commit=row.base_commit,
        dataset=row.dataset,
        dataset_commit=row.dataset_commit,
        data=loads(row.data, {}),
        parameters=loads(row.parameters, {}),
        args=dict(resolved.get("args", {})),
        notes=tuple(resolved.get("notes", ())),
        cluster=cluster.name if cluster else "",
        tier=tier.name if tier else "",
        framework=f"{framework.name}-{framework.version}" if framework else "",
        state=row.state,
        phase=row.phase,
        progress=loads(row.progress, {}),
        history=loads(row.history, []),
        metrics=loads(row.metrics, {}),
        train=loads(row.train, {}),
        error=row.error,
        output=row.output_name,
        output_ready=output_ready,
        merge=row.merge,
        attempts=row.attempts,
        experiment_id=row.experiment_id,
        instance_id=row.instance_id,
        parameter_group_id=row.parameter_group_id,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )
