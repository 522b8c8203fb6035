"""The compute instance record (an endpoint now; fine-tunes, notebooks, spaces later): its states and
the moves allowed between them, its events, and who may see or manage it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict
from csghub.db.models import ComputeEvent, ComputeInstance, Namespace, utcnow
from csghub.services.permissions import EndpointResource


class InvalidTransition(Conflict):
    code = "InvalidTransition"


PENDING, BUILDING, DEPLOYING, RUNNING, STOPPED, FAILED = (
    "pending",
    "building",
    "deploying",
    "running",
    "stopped",
    "failed",
)
STATES = (PENDING, BUILDING, DEPLOYING, RUNNING, STOPPED, FAILED)
# pending (accepted) -> building (its environment) -> deploying (replicas starting) -> running; a stop
# from anywhere; any unrecoverable error -> failed; a start (or an update) from stopped or failed.
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({BUILDING, DEPLOYING, STOPPED, FAILED}),
    BUILDING: frozenset({DEPLOYING, STOPPED, FAILED}),
    DEPLOYING: frozenset({RUNNING, STOPPED, FAILED}),
    RUNNING: frozenset({DEPLOYING, STOPPED, FAILED}),
    STOPPED: frozenset({PENDING}),
    FAILED: frozenset({PENDING, STOPPED}),
}
# An update restarts the way from pending, also from a live state (the rolling update).
UPDATABLE = frozenset({PENDING, BUILDING, DEPLOYING, RUNNING, STOPPED, FAILED})


def check_transition(current: str, new: str) -> None:
    if new != current and new not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(f"An instance cannot go from {current} to {new}")


def move(session: Session, row: ComputeInstance, new: str, reason: str = "", *, level: str = "info") -> bool:
    """Change the state (checked), with an event; False when it already was in that state."""
    if row.state == new and row.reason == reason:
        return False
    check_transition(row.state, new)
    row.state, row.reason, row.updated_at = new, reason, utcnow()
    add_event(session, row.id, f"{new}: {reason}" if reason else new, level=level)
    return True


@dataclass(frozen=True, slots=True)
class EventView:
    at: datetime
    level: str
    message: str
    id: int = 0


def add_event(session: Session, instance_id: int, message: str, *, level: str = "info") -> None:
    session.add(ComputeEvent(instance_id=instance_id, level=level, message=message[:4000]))


def events_of(session: Session, instance_id: int, *, after: int = 0, limit: int = 500) -> list[EventView]:
    rows = session.scalars(
        select(ComputeEvent)
        .where(ComputeEvent.instance_id == instance_id, ComputeEvent.id > after)
        .order_by(ComputeEvent.id)
        .limit(limit)
    ).all()
    return [EventView(r.at, r.level, r.message, r.id) for r in rows]


def resource_of(row: ComputeInstance) -> EndpointResource:
    return EndpointResource(
        owner=row.namespace.name, visibility=row.visibility, label=f"{row.namespace.name}/{row.name}"
    )


def find_row(session: Session, kind: str, owner: str, name: str) -> ComputeInstance | None:
    return session.scalar(
        select(ComputeInstance)
        .join(Namespace, ComputeInstance.namespace_id == Namespace.id)
        .where(
            ComputeInstance.kind == kind, Namespace.name_key == owner.lower(), ComputeInstance.name_key == name.lower()
        )
    )
