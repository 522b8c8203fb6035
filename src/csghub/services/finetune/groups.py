"""Parameter groups: named, reusable training parameters (LLaMA-Factory's names and defaults, checked by
parameters.py) that a namespace's members pick for their fine-tune tasks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict
from csghub.db.models import FinetuneParameterGroup, Namespace, utcnow
from csghub.services.context import Hub
from csghub.services.finetune import parameters
from csghub.services.finetune.records import check_name, loads, owned_by, visible
from csghub.services.permissions import Action, Actor, FinetuneResource, authorize, can, require_account


@dataclass(frozen=True, slots=True)
class GroupView:
    id: int
    owner: str
    name: str
    description: str
    values: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _view(session: Session, row: FinetuneParameterGroup) -> GroupView:
    namespace = session.get(Namespace, row.namespace_id)
    return GroupView(
        id=row.id,
        owner=namespace.name if namespace else "",
        name=row.name,
        description=row.description,
        values=loads(row.values, {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _visible(session: Session, actor: Actor, group_id: int, action: Action = Action.READ) -> FinetuneParameterGroup:
    return visible(session, actor, FinetuneParameterGroup, group_id, "parameter group", action)


def create_group(
    hub: Hub,
    actor: Actor,
    name: str,
    values: Mapping[str, Any],
    *,
    description: str = "",
    owner: str | None = None,
) -> GroupView:
    require_account(actor, "create a parameter group")
    check_name(name, "parameter group")
    owner = owner or actor.name
    authorize(actor, Action.WRITE, FinetuneResource(owner, f"the fine-tunes of {owner}"))
    checked = parameters.validate_parameters(values)
    try:
        with hub.db() as session:
            namespace_id = owned_by(session, owner)
            row = FinetuneParameterGroup(
                namespace_id=namespace_id,
                name=name,
                name_key=name,
                description=description[:2000],
                values=json.dumps(checked),
                created_by=actor.user_id,
            )
            session.add(row)
            session.flush()
            return _view(session, row)
    except IntegrityError:
        raise Conflict(f"A parameter group named '{name}' already exists in {owner}", code="FinetuneExists") from None


def get_group(hub: Hub, actor: Actor, group_id: int) -> GroupView:
    with hub.db() as session:
        return _view(session, _visible(session, actor, group_id))


def group_values(hub: Hub, actor: Actor, group_id: int) -> dict[str, Any]:
    return get_group(hub, actor, group_id).values


def list_groups(hub: Hub, actor: Actor, *, owner: str | None = None) -> list[GroupView]:
    with hub.db() as session:
        stmt = select(FinetuneParameterGroup, Namespace.name).join(
            Namespace, FinetuneParameterGroup.namespace_id == Namespace.id
        )
        if owner is not None:
            stmt = stmt.where(Namespace.name_key == owner.lower())
        found = session.execute(stmt.order_by(FinetuneParameterGroup.id.desc()).limit(1000)).all()
        return [
            _view(session, row)
            for row, namespace in found
            if can(actor, Action.READ, FinetuneResource(namespace, f"parameter group #{row.id}"))
        ]


def update_group(
    hub: Hub, actor: Actor, group_id: int, values: Mapping[str, Any] | None, description: str | None
) -> GroupView:
    """New values apply to tasks created from now on; tasks keep the values they were created with."""
    checked = parameters.validate_parameters(values) if values is not None else None
    with hub.db() as session:
        row = _visible(session, actor, group_id, Action.WRITE)
        if checked is not None:
            row.values = json.dumps(checked)
        if description is not None:
            row.description = description[:2000]
        row.updated_at = utcnow()
        return _view(session, row)


def delete_group(hub: Hub, actor: Actor, group_id: int) -> None:
    with hub.db() as session:
        session.delete(_visible(session, actor, group_id, Action.WRITE))
