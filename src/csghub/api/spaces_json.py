"""How spaces look in answers: CSGHub's status (/api/v1/spaces/...) and Hugging Face's SpaceRuntime,
SpaceSecret and SpaceVariable shapes (huggingface_hub's _space_api.py parses them)."""

from __future__ import annotations

from typing import Any

from csghub.api.compute_json import cluster_json, tier_json
from csghub.api.serialize import iso
from csghub.core.errors import InvalidArgument
from csghub.http.bodies import int_field, optional_text_field, text_field
from csghub.services.spaces.creation import NewSpace
from csghub.services.spaces.records import SpaceView
from csghub.services.spaces.secrets import EnvEntry


def status_json(view: SpaceView, base: str) -> dict[str, Any]:
    return {
        "id": view.full_name,
        "namespace": view.owner,
        "name": view.name,
        "private": view.private,
        "sdk": view.sdk,
        "stage": view.stage,
        "hf_stage": view.hf_stage,
        "reason": view.reason,
        "notes": list(view.notes),
        "app_file": view.app_file,
        "static": view.static,
        "commit": view.commit,
        "url": f"{base}{view.path}" if view.path else "",
        "path": view.path,
        "models": list(view.models),
        "datasets": list(view.datasets),
        "requirements": list(view.requirements),
        "hardware": view.hardware,
        "cluster": cluster_json(view.cluster) if view.cluster is not None else None,
        "resource": tier_json(view.tier) if view.tier is not None else None,
        "sleep_seconds": view.sleep_seconds,
        "allow_token": view.allow_token,
        "updated_at": iso(view.updated_at) if view.updated_at is not None else None,
    }


def runtime_json(view: SpaceView) -> dict[str, Any]:
    """Hugging Face's SpaceRuntime: stage, hardware, gcTimeout (the sleep time), errorMessage."""
    hardware = view.hardware or None
    out: dict[str, Any] = {
        "stage": view.hf_stage,
        "hardware": {"current": hardware if view.stage == "running" else None, "requested": hardware},
        "gcTimeout": view.sleep_seconds or None,
        "storage": None,
        "replicas": {"current": 1 if view.stage == "running" and not view.static else 0, "requested": 1},
        "devMode": False,
        "sdk": view.sdk or None,
    }
    if view.stage in ("build-failed", "runtime-error", "no-app"):
        out["errorMessage"] = view.reason
    return out


def secrets_json(entries: list[EnvEntry]) -> dict[str, Any]:
    return {e.name: {"description": e.description or None, "updatedAt": iso(e.updated_at)} for e in entries}


def variables_json(entries: list[EnvEntry]) -> dict[str, Any]:
    return {
        e.name: {"value": e.value, "description": e.description or None, "updatedAt": iso(e.updated_at)}
        for e in entries
    }


def entries_json(entries: list[EnvEntry]) -> list[dict[str, Any]]:
    """CSGHub's list of secrets or variables (a secret's value is never there)."""
    out = []
    for e in entries:
        item: dict[str, Any] = {"key": e.name, "description": e.description, "updated_at": iso(e.updated_at)}
        if not e.secret:
            item["value"] = e.value
        out.append(item)
    return out


def _pairs(body: dict[str, Any], key: str) -> tuple[tuple[str, str, str], ...]:
    """huggingface_hub's `secrets` / `variables` of create_repo: [{"key", "value", "description"?}]."""
    items = body.get(key)
    if items is None:
        return ()
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidArgument(f"Field '{key}' must be a list of {{key, value, description}} objects")
    return tuple(
        (text_field(i, "key", required=True), text_field(i, "value"), text_field(i, "description")) for i in items
    )


def new_space(body: dict[str, Any], visibility: str) -> NewSpace:
    """create_repo(repo_type="space", space_sdk=..., space_hardware=..., ...)'s body."""
    sleep = int_field(body, "sleepTimeSeconds", minimum=-1, maximum=365 * 24 * 3600)
    return NewSpace(
        sdk=text_field(body, "sdk", required=True),
        visibility=visibility,
        description=text_field(body, "description"),
        license=text_field(body, "license"),
        hardware=optional_text_field(body, "hardware"),
        sleep_seconds=None if sleep is None else max(0, sleep),
        secrets=_pairs(body, "secrets"),
        variables=_pairs(body, "variables"),
    )
