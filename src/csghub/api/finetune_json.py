"""CSGHub's JSON shapes for fine-tuning, built from services/finetune's values: a fine-tune job (CSGHub's
`/finetunes` "task"), a fine-tune instance (a "finetune" deploy, as csghub-cli lists it), a parameter group
and an experiment; and the bodies requests send, with CSGHub's field names (task_name, model_id,
dataset_id, epochs, learning_rate, custom_args, resource_id, ...) beside ours."""

from __future__ import annotations

import json
from typing import Any

from csghub.api.compute_json import FINETUNE
from csghub.api.serialize import iso
from csghub.core.errors import InvalidArgument
from csghub.http.bodies import bool_field, int_field, optional_text_field, text_field
from csghub.http.openapi import FLAG, TEXT, json_body
from csghub.services.finetune.experiments import ExperimentView
from csghub.services.finetune.groups import GroupView
from csghub.services.finetune.instances import InstanceView
from csghub.services.finetune.jobs import JobRequest
from csghub.services.finetune.records import JobView
from csghub.services.finetune.training_data import DataPreview

STATUS = {
    "queued": "Pending",
    "running": "Running",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
_OBJECT: dict[str, Any] = {"type": "object"}
_ID: dict[str, Any] = {"oneOf": [{"type": "integer", "minimum": 0}, TEXT]}
_NUMBER: dict[str, Any] = {"type": "number"}
JOB_FIELDS: dict[str, dict[str, Any]] = {
    "task_name": TEXT,
    "name": TEXT,
    "model_id": TEXT,
    "model": TEXT,
    "dataset_id": TEXT,
    "dataset": TEXT,
    "train_file": TEXT,
    "eval_file": TEXT,
    "mapping": _OBJECT,
    "parameters": _OBJECT,
    "parameter_group_id": _ID,
    "epochs": _NUMBER,
    "learning_rate": _NUMBER,
    "custom_args": {"oneOf": [_OBJECT, TEXT]},
    "model_revision": TEXT,
    "dataset_revision": TEXT,
    "cluster_id": _ID,
    "resource_id": _ID,
    "runtime_framework_id": _ID,
    "output": TEXT,
    "merge": FLAG,
    "owner_namespace": TEXT,
}
JOB_BODY = json_body(optional=False, **JOB_FIELDS)
INSTANCE_BODY = json_body(
    optional=False,
    deploy_name=TEXT,
    cluster_id=_ID,
    resource_id=_ID,
    runtime_framework_id=_ID,
    settings=_OBJECT,
    **{k: JOB_FIELDS[k] for k in ("dataset_id", "train_file", "eval_file", "mapping", "parameters", "merge")},
)
GROUP_BODY = json_body(name=TEXT, description=TEXT, parameters=_OBJECT, owner_namespace=TEXT)
EXPERIMENT_BODY = json_body(
    name=TEXT,
    description=TEXT,
    metric=TEXT,
    owner_namespace=TEXT,
    tasks={"type": "array", "items": {"type": "object", "properties": JOB_FIELDS}},
)


def object_field(body: dict[str, Any], key: str) -> dict[str, Any]:
    """A JSON object field, or that object as a JSON text (CSGHub sends custom_args so); absent is {}."""
    value = body.get(key)
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidArgument(f"Field '{key}' must be a JSON object") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"Field '{key}' must be a JSON object")
    return value


def id_field(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10:
        return int(value)
    if value == "":
        return None
    return int_field(body, key, minimum=0, maximum=2**31 - 1)


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"Field '{key}' must be a number")
    return float(value)


def job_request(body: dict[str, Any], *, owner: str | None = None) -> JobRequest:
    name = text_field(body, "task_name") or text_field(body, "name", required=True)
    parameters = {**object_field(body, "custom_args"), **object_field(body, "parameters")}
    epochs, rate = _number(body, "epochs"), _number(body, "learning_rate")
    if epochs is not None:
        parameters["num_train_epochs"] = epochs
    if rate is not None:
        parameters["learning_rate"] = rate
    mapping = object_field(body, "mapping")
    if not all(isinstance(v, str) for v in mapping.values()):
        raise InvalidArgument("Field 'mapping' maps names to column names (text)")
    return JobRequest(
        name=name,
        model=text_field(body, "model_id") or text_field(body, "model", required=True),
        dataset=text_field(body, "dataset_id") or text_field(body, "dataset", required=True),
        train_file=optional_text_field(body, "train_file") or None,
        eval_file=optional_text_field(body, "eval_file") or None,
        mapping=mapping,
        parameters=parameters,
        parameter_group=id_field(body, "parameter_group_id"),
        model_revision=optional_text_field(body, "model_revision") or None,
        dataset_revision=optional_text_field(body, "dataset_revision") or None,
        cluster_id=id_field(body, "cluster_id"),
        tier_id=id_field(body, "resource_id"),
        framework_id=id_field(body, "runtime_framework_id"),
        output=optional_text_field(body, "output") or None,
        merge=bool(bool_field(body, "merge")),
        owner=owner or optional_text_field(body, "owner_namespace") or None,
    )


def instance_settings(body: dict[str, Any]) -> dict[str, Any]:
    """An instance's training settings: a `settings` object, or its fields at the top level."""
    settings = object_field(body, "settings")
    for key, field in (("dataset_id", "dataset"), ("dataset", "dataset")):
        if body.get(key):
            settings[field] = text_field(body, key)
    for key in ("train_file", "eval_file"):
        if body.get(key):
            settings[key] = text_field(body, key)
    for key in ("mapping", "parameters"):
        if body.get(key) is not None:
            settings[key] = object_field(body, key)
    if body.get("merge") is not None:
        settings["merge"] = bool(bool_field(body, "merge"))
    return settings


def job_json(view: JobView) -> dict[str, Any]:
    return {
        "id": view.id,
        "task_name": view.name,
        "name": view.name,
        "namespace": view.owner,
        "username": view.owner,
        "model_id": view.model,
        "model_commit": view.model_commit,
        "dataset_id": view.dataset,
        "dataset_commit": view.dataset_commit,
        "data": view.data,
        "status": STATUS.get(view.state, view.state.capitalize()),
        "state": view.state,
        "phase": view.phase,
        "progress": view.progress,
        "history": view.history,
        "metrics": view.metrics,
        "train": view.train,
        "parameters": view.parameters,
        "args": view.args,
        "notes": list(view.notes),
        "reason": view.error,
        "error": view.error,
        "output_model": view.output,
        "output_ready": view.output_ready,
        "merge": view.merge,
        "attempts": view.attempts,
        "cluster": view.cluster,
        "resource": view.tier,
        "runtime_framework": view.framework,
        "experiment_id": view.experiment_id,
        "instance_id": view.instance_id,
        "parameter_group_id": view.parameter_group_id,
        "created_at": iso(view.created_at),
        "started_at": iso(view.started_at) if view.started_at else None,
        "finished_at": iso(view.finished_at) if view.finished_at else None,
    }


def instance_json(view: InstanceView) -> dict[str, Any]:
    return {
        "deploy_id": view.id,
        "deploy_name": view.name,
        "namespace": view.owner,
        "model_id": view.model,
        "deploy_type": FINETUNE,
        "status": view.status,
        "cluster_id": str(view.cluster_id),
        "resource_id": view.tier_id,
        "runtime_framework_id": view.framework_id,
        "settings": view.settings,
        "last_run": job_json(view.last_job) if view.last_job is not None else None,
        "created_at": iso(view.created_at),
    }


def group_json(view: GroupView) -> dict[str, Any]:
    return {
        "id": view.id,
        "namespace": view.owner,
        "name": view.name,
        "description": view.description,
        "parameters": view.values,
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
    }


def experiment_json(view: ExperimentView) -> dict[str, Any]:
    return {
        "id": view.id,
        "namespace": view.owner,
        "name": view.name,
        "description": view.description,
        "metric": view.metric,
        "state": view.state,
        "tasks": [job_json(t) for t in view.tasks],
        "ranking": [
            {"task_name": t.name, "id": t.id, "score": (t.metrics.get("after") or {}).get(view.metric)}
            for t in view.tasks
        ],
        "created_at": iso(view.created_at),
    }


def preview_json(preview: DataPreview) -> dict[str, Any]:
    return {
        "path": preview.path,
        "size": preview.size,
        "container": preview.container,
        "format": preview.format,
        "columns": list(preview.columns),
        "mapping": dict(preview.mapped),
        "row_count": preview.row_count,
        "rows": list(preview.rows),
        "problems": list(preview.problems),
        "valid": not preview.problems and bool(preview.format),
    }
