"""Fine-tune jobs: creating one, with everything checked before it is queued (its name, the base model and
the dataset the actor may download, the training data, the parameters against the model and the cluster,
the output repository's name), reading and listing them, cancelling and deleting one. runs.py runs them."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from csghub.core.errors import Conflict, EntryNotFound, InvalidArgument
from csghub.core.names import RepoId, RepoType
from csghub.db.models import ComputeCluster, ComputeTier, FinetuneJob, Namespace, Repo, RuntimeFramework, utcnow
from csghub.services.compute.clusters import LOCAL_CLUSTER_ID
from csghub.services.compute.frameworks import read_json_file
from csghub.services.context import Hub
from csghub.services.finetune import groups, parameters, runs, training_data
from csghub.services.finetune.records import (
    ACTIVE,
    CANCELLED,
    QUEUED,
    RUNNING,
    JobView,
    check_name,
    owned_by,
    view_of,
    visible_job,
    work_dir,
)
from csghub.services.permissions import Action, Actor, FinetuneResource, NamespaceResource, authorize, can
from csghub.services.repositories import files
from csghub.services.repositories.repos import RepoView, get_repo

ENGINE = "llamafactory"


@dataclass(frozen=True, slots=True)
class JobRequest:
    name: str
    model: str  # "ns/name" of the base model
    dataset: str  # "ns/name" of the dataset holding the training data
    train_file: str | None = None  # None: the dataset's only training file
    eval_file: str | None = None  # None: val_size of the training rows, or no evaluation
    mapping: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    parameter_group: int | None = None  # its values, under what `parameters` sets
    model_revision: str | None = None
    dataset_revision: str | None = None
    cluster_id: int | None = None
    tier_id: int | None = None
    framework_id: int | None = None
    output: str | None = None  # "ns/name" of the model repository to create; default owner/name
    merge: bool = False  # also push the adapter merged into the base weights
    owner: str | None = None  # an organization; the actor's own namespace when None
    experiment_id: int | None = None
    instance_id: int | None = None


@dataclass(frozen=True, slots=True)
class _Model:
    repo: RepoView
    commit: str
    config: dict[str, Any] | None
    has_chat_template: bool


def create_job(hub: Hub, actor: Actor, request: JobRequest) -> JobView:
    name = check_name(request.name, "task")
    owner = request.owner or actor.name
    authorize(actor, Action.WRITE, FinetuneResource(owner, f"the fine-tunes of {owner}"))
    output = _output_name(hub, actor, request.output or f"{owner}/{name}")
    model = _base_model(hub, actor, request.model, request.model_revision)
    dataset = get_repo(hub, actor, RepoType.DATASET, _repo_id(request.dataset, "dataset"), Action.DOWNLOAD)
    dataset_commit = files.at_revision(hub, actor, dataset, request.dataset_revision).sha
    values = dict(groups.group_values(hub, actor, request.parameter_group)) if request.parameter_group else {}
    values = parameters.validate_parameters({**values, **request.parameters})
    cluster_id, tier_id, framework_id, gpus = placement(hub, request)
    resolved = parameters.resolve(
        values, model_config=model.config, has_chat_template=model.has_chat_template, gpus=gpus
    )
    train_file = request.train_file or _only_training_file(hub, dataset, dataset_commit)
    staging = hub.settings.finetune_dir / f"new-{secrets.token_hex(8)}"
    staging.mkdir(parents=True)
    try:
        prepared = training_data.prepare(
            hub,
            dataset,
            dataset_commit,
            train_file,
            request.eval_file,
            dict(request.mapping) or None,
            staging,
            val_size=float(values.get("val_size", 0.0)),
            seed=int(values.get("seed", 42)),
        )
        data = {
            "train": train_file,
            "eval": request.eval_file,
            "mapping": dict(request.mapping),
            "format": prepared.format,
            "train_rows": prepared.train_rows,
            "eval_rows": prepared.eval_rows,
            "eval_from": prepared.eval_from,
        }
        with hub.db() as session:
            namespace_id = owned_by(session, owner)
            row = FinetuneJob(
                namespace_id=namespace_id,
                name=name,
                name_key=name,
                experiment_id=request.experiment_id,
                instance_id=request.instance_id,
                created_by=actor.user_id,
                base_repo_id=model.repo.id,
                base_model=str(model.repo.full_name),
                base_commit=model.commit,
                dataset_repo_id=dataset.id,
                dataset=str(dataset.full_name),
                dataset_commit=dataset_commit,
                data=json.dumps(data),
                parameter_group_id=request.parameter_group,
                parameters=json.dumps(values),
                resolved=json.dumps({"args": resolved.args, "notes": list(resolved.notes)}),
                cluster_id=cluster_id,
                tier_id=tier_id,
                framework_id=framework_id,
                output_name=output,
                merge=request.merge,
                state=QUEUED,
                progress="{}",
                history="[]",
                metrics="{}",
                train="{}",
                error="",
                handle="",
                phase="",
                attempts=0,
            )
            session.add(row)
            session.flush()
            staging.rename(work_dir(hub, row.id))
            return view_of(session, row)
    except IntegrityError:
        raise Conflict(f"A fine-tune task named '{name}' already exists in {owner}", code="FinetuneExists") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def get_job(hub: Hub, actor: Actor, job_id: int) -> JobView:
    with hub.db() as session:
        return view_of(session, visible_job(session, actor, job_id))


def list_jobs(
    hub: Hub,
    actor: Actor,
    *,
    owner: str | None = None,
    experiment_id: int | None = None,
    instance_id: int | None = None,
) -> list[JobView]:
    """The jobs `actor` may see, newest first."""
    with hub.db() as session:
        stmt = select(FinetuneJob, Namespace.name).join(Namespace, FinetuneJob.namespace_id == Namespace.id)
        if owner is not None:
            stmt = stmt.where(Namespace.name_key == owner.lower())
        if experiment_id is not None:
            stmt = stmt.where(FinetuneJob.experiment_id == experiment_id)
        if instance_id is not None:
            stmt = stmt.where(FinetuneJob.instance_id == instance_id)
        found = session.execute(stmt.order_by(FinetuneJob.id.desc()).limit(1000)).all()
        return [
            view_of(session, row)
            for row, namespace in found
            if can(actor, Action.READ, FinetuneResource(namespace, f"fine-tune job #{row.id}"))
        ]


def cancel_job(hub: Hub, actor: Actor, job_id: int) -> JobView:
    """Stop a queued or running job; its checkpoints go with it (an ended job is left as it is)."""
    with hub.db() as session:
        row = visible_job(session, actor, job_id, Action.WRITE)
        if row.state not in ACTIVE:
            return view_of(session, row)
        handle, cluster_id = row.handle, row.cluster_id
        row.state, row.phase, row.handle = CANCELLED, "", ""
        row.finished_at = row.updated_at = utcnow()
    runs.stop_process(hub, cluster_id, handle)
    shutil.rmtree(work_dir(hub, job_id), ignore_errors=True)
    return get_job(hub, actor, job_id)


def delete_job(hub: Hub, actor: Actor, job_id: int) -> None:
    """The record and its work folder; the model repository it pushed stays."""
    cancel_job(hub, actor, job_id)
    with hub.db() as session:
        row = visible_job(session, actor, job_id, Action.WRITE)
        session.delete(row)
    shutil.rmtree(work_dir(hub, job_id), ignore_errors=True)


def read_job_log(hub: Hub, actor: Actor, job_id: int, offset: int = 0) -> bytes:
    with hub.db() as session:
        row = visible_job(session, actor, job_id)
        handle, cluster_id = row.handle, row.cluster_id
    return runs.read_log(hub, job_id, cluster_id, handle, offset)


def _repo_id(text: str, what: str) -> RepoId:
    try:
        return RepoId.parse(text)
    except (InvalidArgument, ValueError):
        raise InvalidArgument(f"Invalid {what} id {text!r}: expected namespace/name") from None


def _output_name(hub: Hub, actor: Actor, text: str) -> str:
    repo_id = _repo_id(text, "output model")
    authorize(actor, Action.CREATE, NamespaceResource(repo_id.namespace))
    with hub.db() as session:
        taken = session.scalar(
            select(Repo.id)
            .join(Namespace, Repo.namespace_id == Namespace.id)
            .where(
                Repo.type == RepoType.MODEL.value,
                Namespace.name_key == repo_id.namespace.lower(),
                Repo.name_key == repo_id.name.lower(),
            )
        )
        pending = session.scalar(
            select(FinetuneJob.id).where(
                FinetuneJob.output_name == str(repo_id), FinetuneJob.state.in_((QUEUED, RUNNING))
            )
        )
    if taken is not None or pending is not None:
        raise Conflict(f"The model {repo_id} already exists: choose another output name", code="RepoExists")
    return str(repo_id)


def _base_model(hub: Hub, actor: Actor, text: str, revision: str | None) -> _Model:
    repo = get_repo(hub, actor, RepoType.MODEL, _repo_id(text, "model"), Action.DOWNLOAD)
    snapshot = files.at_revision(hub, actor, repo, revision)
    config = read_json_file(snapshot, "config.json")
    if config is None:
        raise InvalidArgument(f"{repo.full_name} has no config.json: LLaMA-Factory trains transformers models")
    tokenizer = read_json_file(snapshot, "tokenizer_config.json") or {}
    has_template = bool(tokenizer.get("chat_template")) or _exists(snapshot, "chat_template.jinja")
    return _Model(repo, snapshot.sha, config, has_template)


def _exists(snapshot: files.Snapshot, path: str) -> bool:
    try:
        files.get_entry(snapshot, path)
    except EntryNotFound:
        return False
    return True


def _only_training_file(hub: Hub, dataset: RepoView, commit: str) -> str:
    found = training_data.data_files(hub, dataset, commit)
    if len(found) == 1:
        return found[0]
    if not found:
        raise InvalidArgument(f"{dataset.full_name} has no training file (CSV, JSON or JSON Lines)")
    listed = ", ".join(found[:10])
    raise InvalidArgument(f"{dataset.full_name} has {len(found)} data files ({listed}): say which to train on")


def placement(hub: Hub, request: JobRequest) -> tuple[int, int, int, int]:
    """The cluster, tier and runtime framework ids, and the tier's GPUs."""
    with hub.db() as session:
        cluster = session.get(ComputeCluster, request.cluster_id or LOCAL_CLUSTER_ID)
        if cluster is None or not cluster.enabled:
            raise InvalidArgument(f"Unknown cluster #{request.cluster_id}")
        tiers = session.scalars(
            select(ComputeTier)
            .where(ComputeTier.cluster_id == cluster.id, ComputeTier.enabled.is_(True))
            .order_by(ComputeTier.gpus.desc(), ComputeTier.id)
        ).all()
        if request.tier_id is not None:
            tiers = [t for t in tiers if t.id == request.tier_id]
            if not tiers:
                raise InvalidArgument(f"Tier #{request.tier_id} is not an enabled tier of cluster '{cluster.name}'")
        if not tiers:
            raise InvalidArgument(f"Cluster '{cluster.name}' has no enabled tier")
        stmt = select(RuntimeFramework).where(RuntimeFramework.engine == ENGINE, RuntimeFramework.enabled.is_(True))
        if request.framework_id is not None:
            stmt = stmt.where(RuntimeFramework.id == request.framework_id)
        framework = session.scalars(stmt.order_by(RuntimeFramework.id.desc())).first()
        if framework is None:
            which = f"#{request.framework_id}" if request.framework_id is not None else "(LLaMA-Factory)"
            raise InvalidArgument(f"No enabled fine-tuning runtime framework {which} on this hub")
        return cluster.id, tiers[0].id, framework.id, tiers[0].gpus


def staging_dirs(hub: Hub) -> list[Path]:
    """Data folders of jobs being created (a hub that died meanwhile leaves them: runs.py removes them)."""
    root = hub.settings.finetune_dir
    return sorted(root.glob("new-*")) if root.is_dir() else []


def training_files(hub: Hub, actor: Actor, dataset: str, revision: str | None = None) -> list[str]:
    """The files of a dataset the actor may download that could be training data."""
    repo = get_repo(hub, actor, RepoType.DATASET, _repo_id(dataset, "dataset"), Action.DOWNLOAD)
    return training_data.data_files(hub, repo, files.at_revision(hub, actor, repo, revision).sha)


def preview_training_file(
    hub: Hub, actor: Actor, dataset: str, path: str, mapping: Mapping[str, str] | None, revision: str | None = None
) -> training_data.DataPreview:
    """What a task would train on from `path`: its format, first rows and problems (listed, not raised)."""
    repo = get_repo(hub, actor, RepoType.DATASET, _repo_id(dataset, "dataset"), Action.DOWNLOAD)
    commit = files.at_revision(hub, actor, repo, revision).sha
    return training_data.preview(hub, repo, commit, path, mapping)
