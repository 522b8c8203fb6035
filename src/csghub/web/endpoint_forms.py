"""The endpoint form's fields, shared by "Deploy → Dedicated endpoint" and an endpoint's settings: what
a form sends becomes an EndpointSpec (the compute service checks it), what the form offers comes from
the services (the model's branches, the clusters, their tiers, the frameworks that fit the model), and
the service's refusal is shown next to the field it is about."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from csghub.core.errors import HubError, InvalidArgument
from csghub.core.names import RepoId, RepoType
from csghub.services.compute import clusters, frameworks
from csghub.services.compute.endpoints import MAX_REPLICAS, EndpointSpec, EndpointView
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor
from csghub.services.repositories import refs, repos

FIELDS = ("name", "revision", "cluster_id", "tier_id", "framework_id", "min_replicas", "max_replicas", "visibility")
# The service's messages, by how they begin, and the field each is about (the rest show above the form).
_FIELD_OF_MESSAGE = (
    ("Invalid endpoint name", "name"),
    ("You already have an endpoint named", "name"),
    ("An endpoint named", "name"),
    ("Invalid replicas", "replicas"),
    ("Unknown cluster", "cluster_id"),
    ("Tier ", "tier_id"),
    ("Cluster ", "tier_id"),
    ("Unknown or disabled runtime framework", "framework_id"),
    ("Runtime framework", "framework_id"),
    ("Invalid engine argument", "engine_args"),
    ("Invalid value for", "engine_args"),
    ("Invalid visibility", "visibility"),
)


@dataclass(frozen=True, slots=True)
class FormError:
    field: str  # a field's name, or "" for the whole form
    message: str
    code: str = ""


def error_of(exc: HubError) -> FormError:
    field = next((f for start, f in _FIELD_OF_MESSAGE if exc.message.startswith(start)), "")
    if exc.code == "RevisionNotFound":
        field = "revision"
    return FormError(field, exc.message, exc.code)


def suggested_name(model: RepoId) -> str:
    """The model's name as an endpoint name (a suggestion: the service decides what is valid)."""
    return re.sub(r"[^a-z0-9_-]+", "-", model.name.lower()).strip("-_")[:64]


def _whole(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 6 else None


def _replicas(value: str) -> int:
    # Not a whole number: 0, which the service refuses with its own message about replicas.
    return _whole(value) or 0


def engine_args_of(text: str) -> dict[str, str]:
    """`key=value` lines (blank lines skipped): the service checks names and values."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        key, equals, value = line.partition("=")
        if not equals:
            raise InvalidArgument(f"Invalid engine argument '{line}': write one key=value a line")
        found[key.strip().removeprefix("--")] = value.strip()
    return found


def spec_of(fields: dict[str, str], current: EndpointView | None = None) -> EndpointSpec:
    return EndpointSpec(
        name=fields.get("name", "").strip(),
        revision=fields.get("revision", "").strip() or None,
        cluster_id=_whole(fields.get("cluster_id", "")),
        tier_id=_whole(fields.get("tier_id", "")),
        framework_id=_whole(fields.get("framework_id", "")),
        min_replicas=_replicas(fields.get("min_replicas", "")),
        max_replicas=_replicas(fields.get("max_replicas", "")),
        visibility=fields.get("visibility", "private"),
        engine_args=engine_args_of(fields.get("engine_args", "")),
        env=dict(current.env) if current is not None else {},
    )


def values_of(view: EndpointView) -> dict[str, str]:
    """An endpoint's settings as the form's fields."""
    return {
        "name": view.name,
        "revision": view.revision,
        "cluster_id": str(view.cluster.id),
        "tier_id": str(view.tier.id),
        "framework_id": str(view.framework.id),
        "min_replicas": str(view.min_replicas),
        "max_replicas": str(view.max_replicas),
        "visibility": view.visibility,
        "engine_args": "\n".join(f"{k}={v}" for k, v in view.engine_args.items()),
    }


def form_context(hub: Hub, actor: Actor, model: RepoId, values: dict[str, str]) -> dict[str, Any]:
    """What the form offers for `model` (which the actor must be able to download), and its values."""
    repo = repos.get_repo(hub, actor, RepoType.MODEL, model, Action.DOWNLOAD)
    revision = values.get("revision") or repo.default_branch
    fitting = frameworks.frameworks_for_model(hub, actor, model, revision)
    branches = [b.name for b in refs.list_refs(hub, actor, repo).branches]
    if revision not in branches:
        branches.append(revision)  # a tag or commit an endpoint was deployed from
    return {
        "model": repo,
        "branches": branches,
        "clusters": clusters.list_clusters(hub, actor),
        "tiers": [t for t in clusters.list_tiers(hub, actor) if t.enabled],
        "frameworks": fitting,
        "values": {"revision": revision, "min_replicas": "1", "max_replicas": "1", "visibility": "private"} | values,
        "max_replicas": MAX_REPLICAS,
    }
