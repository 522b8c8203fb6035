"""CSGHub's JSON shapes for compute, built from the compute service's values: a deploy (an inference
endpoint as CSGHub's `types.DeployRepo` names its fields), a runtime framework, a cluster and a
resource tier ("space resource"), and the deploy settings a request sends (`types.ModelRunReq`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from csghub.api.serialize import iso
from csghub.core.errors import InvalidArgument
from csghub.http.bodies import int_field, optional_text_field, text_field
from csghub.http.openapi import TEXT, json_body
from csghub.services.compute.clusters import ClusterView, TierView
from csghub.services.compute.endpoints import EndpointSpec, EndpointView
from csghub.services.compute.frameworks import FrameworkView

# CSGHub's status words for our states.
STATUS = {
    "pending": "Pending",
    "building": "Building",
    "deploying": "Deploying",
    "running": "Running",
    "stopped": "Stopped",
    "failed": "Failed",
}
# secure_level, as CSGHub numbers it.
PUBLIC, PRIVATE = 1, 2
_LEVELS = {PUBLIC: "public", PRIVATE: "private"}
# CSGHub's deploy types; ours are inference endpoints only (spaces, fine-tunes... come later).
INFERENCE = 1
FINETUNE = 2  # CSGHub's runtime_framework `type` of a framework that trains

_ARGUMENTS: dict[str, Any] = {
    "description": "An object of text values, or that object as a JSON text (as CSGHub sends it)",
    "oneOf": [{"type": "object", "additionalProperties": TEXT}, TEXT],
}
_ID: dict[str, Any] = {"oneOf": [{"type": "integer", "minimum": 0}, TEXT]}
RUN_BODY = json_body(
    deploy_name=TEXT,
    runtime_framework_id=_ID,
    resource_id=_ID,
    cluster_id=_ID,
    min_replica={"type": "integer", "minimum": 1, "maximum": 5},
    max_replica={"type": "integer", "minimum": 1, "maximum": 5},
    revision=TEXT,
    secure_level={"type": "integer", "enum": [PUBLIC, PRIVATE]},
    engine_args=_ARGUMENTS,
    env=_ARGUMENTS,
    owner_namespace=TEXT,
)


def endpoint_url(base: str, view: EndpointView) -> str:
    return f"{base}/endpoints/{view.owner}/{view.name}/v1"


def deploy_json(view: EndpointView, base: str) -> dict[str, Any]:
    healthy = sum(1 for r in view.replicas if r.state == "healthy")
    url = endpoint_url(base, view)
    return {
        "deploy_id": view.id,
        "deploy_name": view.name,
        "namespace": view.owner,
        "model_id": view.model,
        "repo_tag": view.framework.tasks[0] if view.framework.tasks else "",
        "status": STATUS.get(view.state, view.state.capitalize()),
        "state": view.state,
        "reason": view.reason,
        "message": view.reason,
        "git_branch": view.revision,
        "commit_id": view.commit,
        "cluster_id": str(view.cluster.id),
        "cluster_name": view.cluster.name,
        "cluster_region": view.cluster.region,
        "resource_id": view.tier.id,
        "hardware": tier_hardware(view.tier),
        "runtime_framework": view.framework.name,
        "runtime_framework_id": view.framework.id,
        "engine_args": json.dumps(dict(view.engine_args)),
        "env_keys": sorted(view.env),  # values may be secrets: never shown, kept by an update that omits them
        "min_replica": view.min_replicas,
        "max_replica": view.max_replicas,
        "desired_replica": view.min_replicas if view.desired == "running" else 0,
        "actual_replica": healthy,
        "secure_level": PUBLIC if view.visibility == "public" else PRIVATE,
        "private": view.visibility != "public",
        "endpoint": url,
        "proxy_endpoint": url,
        "instances": [
            {"name": str(r.index), "status": r.state, "restarts": r.restarts, "generation": r.generation}
            for r in view.replicas
        ],
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
    }


def tier_hardware(tier: TierView) -> dict[str, Any]:
    hardware: dict[str, Any] = {"cpu": {"num": f"{tier.cpus:g}"}, "memory": f"{tier.memory_mb}Mi"}
    if tier.gpus:
        hardware["gpu"] = {"type": tier.gpu_type, "num": str(tier.gpus)}
    return hardware


def tier_json(tier: TierView, region: str = "") -> dict[str, Any]:
    return {
        "id": tier.id,
        "name": tier.name,
        "cluster_id": str(tier.cluster_id),
        "cluster_region": region,
        "resources": json.dumps(tier_hardware(tier)),  # CSGHub sends it as JSON text
        "type": "gpu" if tier.gpus else "cpu",
        "is_available": tier.enabled,
        "cpus": tier.cpus,
        "memory_mb": tier.memory_mb,
        "gpus": tier.gpus,
        "gpu_type": tier.gpu_type,
    }


def cluster_json(cluster: ClusterView) -> dict[str, Any]:
    return {
        "cluster_id": str(cluster.id),
        "name": cluster.name,
        "region": cluster.region,
        "zone": "",
        "provider": cluster.kind,
        "enable": cluster.enabled,
    }


def framework_json(framework: FrameworkView) -> dict[str, Any]:
    return {
        "id": framework.id,
        "frame_name": framework.name,
        "frame_version": framework.version,
        "engine": framework.engine,
        "compute_type": "gpu" if framework.needs_gpu else "cpu",
        "type": FINETUNE if framework.purpose == "finetune" else INFERENCE,
        "enabled": 1 if framework.enabled else 0,
        "tasks": list(framework.tasks),
        "state": framework.state,
        "reason": framework.reason,
    }


def _number(body: Mapping[str, Any], key: str) -> int | None:
    """An id CSGHub sends as a number or as digits in a string."""
    value = body.get(key)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if value == "":
        return None
    return int_field({key: value}, key, minimum=0, maximum=2**31 - 1)


def _arguments(body: Mapping[str, Any], key: str) -> dict[str, str] | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidArgument(f"Field '{key}' must be an object, or that object as JSON text") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"Field '{key}' must be an object of names to values")
    out: dict[str, str] = {}
    for name, item in value.items():
        if isinstance(item, bool):
            item = "true" if item else "false"
        if not isinstance(item, str | int | float):
            raise InvalidArgument(f"Field '{key}.{name}' must be a text or a number")
        out[name] = str(item)
    return out


def _visibility(body: Mapping[str, Any], default: str) -> str:
    level = body.get("secure_level")
    if level is None:
        return default
    if level not in _LEVELS or isinstance(level, bool):
        raise InvalidArgument("Field 'secure_level' must be 1 (public) or 2 (private)")
    return _LEVELS[level]


def run_spec(body: dict[str, Any], current: EndpointView | None = None) -> EndpointSpec:
    """The deploy settings of a create (`current` None) or an update (what the body leaves out stays)."""
    name = text_field(body, "deploy_name", required=current is None) or (current.name if current else "")
    low, high = _number(body, "min_replica"), _number(body, "max_replica")
    if current is None:
        low = low or 1
        high = high or max(low, 1)
    else:
        low = low or current.min_replicas
        high = high or max(low, current.max_replicas)
    engine_args, env = _arguments(body, "engine_args"), _arguments(body, "env")
    return EndpointSpec(
        name=name,
        revision=optional_text_field(body, "revision") or (current.revision if current else None),
        cluster_id=_number(body, "cluster_id") or (current.cluster.id if current else None),
        tier_id=_number(body, "resource_id") or (current.tier.id if current else None),
        framework_id=_number(body, "runtime_framework_id") or (current.framework.id if current else None),
        min_replicas=low,
        max_replicas=high,
        visibility=_visibility(body, current.visibility if current else "private"),
        engine_args=engine_args if engine_args is not None else dict(current.engine_args if current else {}),
        env=env if env is not None else dict(current.env if current else {}),
        owner=optional_text_field(body, "owner_namespace") if current is None else None,
    )
