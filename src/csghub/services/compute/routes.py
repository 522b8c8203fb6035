"""What the gateway needs for each request: where an endpoint's healthy replicas are (authorized,
cached a second), and telling the supervisor when one of them died under a request."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from csghub.core.errors import NotFound, ServiceUnavailable
from csghub.db.models import ComputeReplica, RuntimeFramework
from csghub.services.compute import instances
from csghub.services.compute.launch import model_dir
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, EndpointResource, authorize


@dataclass(frozen=True, slots=True)
class Route:
    endpoint_id: int
    served_model: str  # what the engine calls its model (the gateway rewrites `model` to it)
    public_model: str  # what clients see in /v1/models: "<owner>/<name>"
    urls: tuple[str, ...]  # healthy replicas' base URLs ("http://127.0.0.1:PORT")
    kind: str  # "chat" | "embeddings"


def _load(hub: Hub, owner: str, name: str) -> tuple[EndpointResource, Route, str] | None:
    with hub.db() as session:
        row = instances.find_row(session, "endpoint", owner, name)
        if row is None:
            return None
        framework = session.get(RuntimeFramework, row.framework_id)
        urls = tuple(
            session.scalars(
                select(ComputeReplica.url)
                .where(ComputeReplica.instance_id == row.id, ComputeReplica.state == "healthy")
                .order_by(ComputeReplica.generation.desc(), ComputeReplica.index)
            )
        )
        engine = framework.engine if framework is not None else ""
        repo_id = row.repo_id or 0
        route = Route(
            endpoint_id=row.id,
            served_model=str(model_dir(hub, repo_id, row.commit)),
            public_model=f"{row.namespace.name}/{row.name}",
            urls=urls if row.desired == "running" else (),
            kind="embeddings" if engine == "embeddings" else "chat",
        )
        return instances.resource_of(row), route, row.state


def cached_route(hub: Hub, actor: Actor, owner: str, name: str) -> Route | None:
    """route_for without a database read: None when the endpoint's route is not at hand (the caller then
    asks route_for, off the event loop). Authorized on every call, so a revoked right stops the next one."""
    found: tuple[EndpointResource, Route, str] | None = hub.compute.routes.get(_key(owner, name))
    return None if found is None else _authorized(hub, found, actor)


def route_for(hub: Hub, actor: Actor, owner: str, name: str) -> Route:
    """The endpoint's route if `actor` may CALL it; NotFound when invisible, 503 with no healthy replica."""
    key = _key(owner, name)
    found: tuple[EndpointResource, Route, str] | None = hub.compute.routes.get(key)
    if found is None:
        found = _load(hub, owner, name)
        if found is None:
            raise NotFound(f"Endpoint not found: {owner}/{name}", code="EndpointNotFound")
        hub.compute.routes.put(key, found)
    return _authorized(hub, found, actor)


def _key(owner: str, name: str) -> str:
    return f"{owner.lower()}\x00{name.lower()}"


def _authorized(hub: Hub, found: tuple[EndpointResource, Route, str], actor: Actor) -> Route:
    resource, route, state = found
    authorize(actor, Action.CALL, resource)
    suspects = hub.compute.suspects
    urls = tuple(u for u in route.urls if u not in suspects) if suspects else route.urls
    if not urls:
        raise ServiceUnavailable(f"Endpoint {route.public_model} has no healthy replica right now (state: {state})")
    return Route(route.endpoint_id, route.served_model, route.public_model, urls, route.kind)


def mark_replica_failed(hub: Hub, endpoint_id: int, url: str) -> None:
    """The gateway saw this replica fail: no more requests to it until the supervisor's next check."""
    hub.compute.suspects.add(url)
