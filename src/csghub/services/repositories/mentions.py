"""The repositories a card mentions (a space's `models` and `datasets`): which of them exist and a viewer
may read, found for a whole listing page in one query, so a page links those and never names a private
one to someone who may not see it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoId, RepoType
from csghub.db.models import Namespace, Repo
from csghub.services.context import Hub
from csghub.services.permissions import Actor
from csghub.services.repositories.repos import visible_clause

# A card may list any number of names; a page looks up at most this many (the rest are not linked).
MAX_MENTIONS = 500


def mentioned(card: dict[str, Any], key: str, *, limit: int = 20) -> list[str]:
    """The well-formed repository ids a card lists under `key` (one string or a list), in its order."""
    value = card.get(key)
    values = value if isinstance(value, list) else [value]
    found: list[str] = []
    for item in values:
        if not isinstance(item, str):
            continue
        try:
            repo_id = str(RepoId.parse(item.strip()))
        except InvalidArgument:
            continue
        if repo_id not in found:
            found.append(repo_id)
        if len(found) >= limit:
            break
    return found


def visible_names(hub: Hub, actor: Actor, repo_type: RepoType, names: Iterable[str]) -> dict[str, str]:
    """Of `names` ("namespace/name"), those that exist and `actor` may read: lower-cased name -> the
    repository's own spelling. What is missing and what is hidden are both simply absent."""
    wanted: set[str] = set()
    for name in names:
        wanted.add(name.lower())
        if len(wanted) >= MAX_MENTIONS:
            break
    if not wanted:
        return {}
    short = {name.split("/", 1)[1] for name in wanted if "/" in name}
    stmt = (
        select(Namespace.name, Repo.name)
        .join(Namespace, Repo.namespace_id == Namespace.id)
        .where(Repo.type == repo_type.value, Repo.name_key.in_(short))
    )
    visible = visible_clause(actor)
    if visible is not None:
        stmt = stmt.where(visible)
    with hub.db() as session:
        rows = session.execute(stmt).all()
    found = {f"{ns}/{name}": f"{ns}/{name}" for ns, name in rows}
    return {key.lower(): full for key, full in found.items() if key.lower() in wanted}
