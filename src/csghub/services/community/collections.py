"""Collections: curated, ordered lists of repositories owned by a user or an organization.

Owns the `collections` and `collection_items` tables. A public collection is seen by anyone; a private
one only by members of its owner namespace. Whoever may write in the namespace edits its collections.
Items are always filtered by the viewer's own right to read each repository, so a collection never
reveals a repository its viewer could not open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict, InvalidArgument, NotFound
from csghub.core.names import RepoId, RepoType
from csghub.db.models import Collection, CollectionItem, Namespace, Repo, utcnow
from csghub.services import audit
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, NamespaceResource, authorize, can
from csghub.services.repositories.repos import RepoView, get_repo, get_repo_by_id, viewable

COLLECTION_VISIBILITIES = ("public", "private")
MAX_ITEMS = 1000
_SLUG_RE = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class CollectionItemView:
    repo: RepoView
    note: str
    position: int


@dataclass(frozen=True, slots=True)
class CollectionView:
    id: int
    namespace: str
    slug: str
    title: str
    description: str
    visibility: str
    created_at: datetime
    updated_at: datetime
    items: tuple[CollectionItemView, ...] = ()
    can_edit: bool = False

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.slug}"


def slugify(title: str) -> str:
    slug = _SLUG_RE.sub("-", title.lower()).strip("-")[:80].strip("-")
    if not slug:
        raise InvalidArgument("A collection needs a title with at least one letter or digit")
    return slug


def _check_visibility(visibility: str) -> str:
    if visibility not in COLLECTION_VISIBILITIES:
        raise InvalidArgument(f"Invalid visibility '{visibility}': expected public or private")
    return visibility


def _check_title(title: str) -> str:
    title = title.strip()
    if not title or len(title) > 200:
        raise InvalidArgument("A collection title must have 1 to 200 characters")
    return title


def _may_see(actor: Actor, row: Collection) -> bool:
    return row.visibility == "public" or can(actor, Action.READ, NamespaceResource(row.namespace.name))


def _find_row(session: Session, namespace: str, slug: str) -> Collection | None:
    return session.scalar(
        select(Collection)
        .join(Namespace, Collection.namespace_id == Namespace.id)
        .where(Namespace.name_key == namespace.lower(), Collection.slug == slug.lower())
    )


def _visible_row(session: Session, actor: Actor, namespace: str, slug: str) -> Collection:
    row = _find_row(session, namespace, slug)
    if row is None or not _may_see(actor, row):
        raise NotFound(f"Collection '{namespace}/{slug}' does not exist")
    return row


def _editable_row(session: Session, actor: Actor, namespace: str, slug: str) -> Collection:
    row = _visible_row(session, actor, namespace, slug)
    authorize(actor, Action.WRITE, NamespaceResource(row.namespace.name))
    return row


def _view(actor: Actor, row: Collection, items: tuple[CollectionItemView, ...] = ()) -> CollectionView:
    return CollectionView(
        id=row.id,
        namespace=row.namespace.name,
        slug=row.slug,
        title=row.title,
        description=row.description,
        visibility=row.visibility,
        created_at=row.created_at,
        updated_at=row.updated_at,
        items=items,
        can_edit=can(actor, Action.WRITE, NamespaceResource(row.namespace.name)),
    )


def create_collection(
    hub: Hub, actor: Actor, namespace: str, title: str, *, description: str = "", visibility: str = "public"
) -> CollectionView:
    authorize(actor, Action.CREATE, NamespaceResource(namespace))
    title, slug = _check_title(title), slugify(title)
    _check_visibility(visibility)
    with hub.db() as session:
        ns = session.scalar(select(Namespace).where(Namespace.name_key == namespace.lower()))
        if ns is None:
            raise NotFound(f"Namespace '{namespace}' does not exist")
        if _find_row(session, ns.name, slug) is not None:
            raise Conflict(f"'{ns.name}' already has a collection named '{slug}'")
        row = Collection(
            namespace_id=ns.id,
            slug=slug,
            title=title,
            description=description,
            visibility=visibility,
            created_by=actor.user_id,
        )
        session.add(row)
        session.flush()
        session.refresh(row)
        audit.record(
            session, actor, "collection.create", namespace=ns.name, target=f"{ns.name}/{slug}", detail={"title": title}
        )
        return _view(actor, row)


def get_collection(hub: Hub, actor: Actor, namespace: str, slug: str) -> CollectionView:
    """The collection with the items `actor` may read, in their order; NotFound when hidden."""
    with hub.db() as session:
        row = _visible_row(session, actor, namespace, slug)
        found = session.execute(
            select(CollectionItem.repo_id, CollectionItem.note, CollectionItem.position)
            .where(CollectionItem.collection_id == row.id)
            .order_by(CollectionItem.position, CollectionItem.created_at)
        ).all()
        view = _view(actor, row)
    items = []
    for repo_id, note, position in found:
        repo = get_repo_by_id(hub, repo_id)
        if viewable(actor, repo):
            items.append(CollectionItemView(repo, note, position))
    return replace(view, items=tuple(items))


def list_collections(hub: Hub, actor: Actor, namespace: str) -> list[CollectionView]:
    """A namespace's collections `actor` may see, most recently updated first."""
    with hub.db() as session:
        rows = session.scalars(
            select(Collection)
            .join(Namespace, Collection.namespace_id == Namespace.id)
            .where(Namespace.name_key == namespace.lower())
            .order_by(Collection.updated_at.desc(), Collection.id.desc())
        ).all()
        return [_view(actor, row) for row in rows if _may_see(actor, row)]


def update_collection(
    hub: Hub,
    actor: Actor,
    namespace: str,
    slug: str,
    *,
    title: str | None = None,
    description: str | None = None,
    visibility: str | None = None,
) -> CollectionView:
    with hub.db() as session:
        row = _editable_row(session, actor, namespace, slug)
        if title is not None:
            row.title = _check_title(title)
        if description is not None:
            row.description = description
        if visibility is not None:
            row.visibility = _check_visibility(visibility)
        row.updated_at = utcnow()
        audit.record(session, actor, "collection.update", namespace=row.namespace.name, target=f"{namespace}/{slug}")
        return _view(actor, row)


def delete_collection(hub: Hub, actor: Actor, namespace: str, slug: str) -> None:
    with hub.db() as session:
        row = _editable_row(session, actor, namespace, slug)
        session.delete(row)
        audit.record(session, actor, "collection.delete", namespace=row.namespace.name, target=f"{namespace}/{slug}")


def add_item(
    hub: Hub, actor: Actor, namespace: str, slug: str, repo_type: RepoType, repo_id: RepoId, *, note: str = ""
) -> None:
    """Add a repository the actor may read (or update its note when it is already there)."""
    repo = get_repo(hub, actor, repo_type, repo_id)
    with hub.db() as session:
        row = _editable_row(session, actor, namespace, slug)
        item = session.get(CollectionItem, (row.id, repo.id))
        if item is None:
            in_this = CollectionItem.collection_id == row.id
            count = session.scalar(select(func.count()).select_from(CollectionItem).where(in_this)) or 0
            if count >= MAX_ITEMS:
                raise InvalidArgument(f"A collection holds at most {MAX_ITEMS} repositories")
            last = session.scalar(select(func.max(CollectionItem.position)).where(in_this))
            item = CollectionItem(collection_id=row.id, repo_id=repo.id, note=note, position=(last or 0) + 1)
            session.add(item)
        else:
            item.note = note
        row.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "collection.item_add",
            namespace=row.namespace.name,
            target=f"{namespace}/{slug}",
            detail={"repo": f"{repo_type.value}:{repo.full_name}"},
        )


def remove_item(hub: Hub, actor: Actor, namespace: str, slug: str, repo_type: RepoType, repo_id: RepoId) -> None:
    repo = get_repo(hub, actor, repo_type, repo_id)
    with hub.db() as session:
        row = _editable_row(session, actor, namespace, slug)
        item = session.get(CollectionItem, (row.id, repo.id))
        if item is None:
            raise NotFound(f"{repo.full_name} is not in collection '{namespace}/{slug}'")
        session.delete(item)
        row.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "collection.item_remove",
            namespace=row.namespace.name,
            target=f"{namespace}/{slug}",
            detail={"repo": f"{repo_type.value}:{repo.full_name}"},
        )


def collections_to_add_to(hub: Hub, actor: Actor) -> list[CollectionView]:
    """The collections `actor` may add repositories to: their own and their organizations' (the picker)."""
    if actor.is_anonymous:
        return []
    namespaces = [actor.name, *sorted(actor.org_roles)]
    out: list[CollectionView] = []
    for namespace in namespaces:
        out += [c for c in list_collections(hub, actor, namespace) if c.can_edit]
    return out


def _repo_ref(hub: Hub, actor: Actor, repo_db_id: int) -> tuple[RepoType, RepoId]:
    """A repository named by its database id (as API clients name collection items), if `actor` may read it."""
    try:
        repo = get_repo_by_id(hub, repo_db_id)
    except NotFound:
        raise NotFound(f"Item {repo_db_id} does not exist") from None
    if not viewable(actor, repo):
        raise NotFound(f"Item {repo_db_id} does not exist")
    return repo.type, RepoId.of(repo.namespace, repo.name)


def remove_item_by_id(hub: Hub, actor: Actor, namespace: str, slug: str, repo_db_id: int) -> None:
    remove_item(hub, actor, namespace, slug, *_repo_ref(hub, actor, repo_db_id))


def update_item(
    hub: Hub, actor: Actor, namespace: str, slug: str, repo_db_id: int, *, note: str | None, position: int | None
) -> None:
    """Change an item's note, or move it to `position` (0 is first), shifting the others."""
    _repo_ref(hub, actor, repo_db_id)
    with hub.db() as session:
        row = _editable_row(session, actor, namespace, slug)
        item = session.get(CollectionItem, (row.id, repo_db_id))
        if item is None:
            raise NotFound(f"Item {repo_db_id} is not in collection '{namespace}/{slug}'")
        if note is not None:
            item.note = note
        if position is not None:
            ordered = session.scalars(
                select(CollectionItem)
                .where(CollectionItem.collection_id == row.id)
                .order_by(CollectionItem.position, CollectionItem.created_at)
            ).all()
            others = [i for i in ordered if i.repo_id != repo_db_id]
            others.insert(max(0, min(position, len(others))), item)
            for index, each in enumerate(others):
                each.position = index
        row.updated_at = utcnow()
        audit.record(
            session, actor, "collection.item_update", namespace=row.namespace.name, target=f"{namespace}/{slug}"
        )


COLLECTION_SORTS = ("trending", "updated")


def _seen_by(actor: Actor) -> ColumnElement[bool] | None:
    """SQL for the collections `actor` may see, as _may_see decides for one; None: all of them."""
    if actor.is_admin and actor.scope != "fine":
        return None
    # The namespaces whose private collections _may_see would show: asked of authorize's rules, so that a
    # fine-grained token sees only those of the namespaces it names (an administrator's: only those).
    candidates = set() if actor.is_anonymous else {actor.name.lower(), *actor.org_roles}
    candidates |= {str(g.target) for g in actor.grants if g.kind == "namespace"}
    mine = sorted(ns for ns in candidates if can(actor, Action.READ, NamespaceResource(ns)))
    return or_(Collection.visibility == "public", Namespace.name_key.in_(mine))


def list_all_collections(
    hub: Hub, actor: Actor, *, search: str = "", sort: str = "trending", limit: int = 30, offset: int = 0
) -> tuple[list[CollectionView], int]:
    """Every collection `actor` may see, matching `search` (title, description or owner), with the total.
    "trending" ranks by the likes of the public repositories in it (what anyone can see), "updated" by time."""
    if sort not in COLLECTION_SORTS:
        raise InvalidArgument(f"Invalid sort '{sort}': expected trending or updated")
    stmt = select(Collection).join(Namespace, Collection.namespace_id == Namespace.id)
    seen = _seen_by(actor)
    if seen is not None:
        stmt = stmt.where(seen)
    if search.strip():
        pattern = f"%{search.strip().lower()[:100]}%"
        stmt = stmt.where(
            or_(
                func.lower(Collection.title).like(pattern),
                func.lower(Collection.description).like(pattern),
                Namespace.name_key.like(pattern),
            )
        )
    popular = (
        select(func.coalesce(func.sum(Repo.likes), 0))
        .join(CollectionItem, CollectionItem.repo_id == Repo.id)
        .where(CollectionItem.collection_id == Collection.id, Repo.visibility == "public")
        .correlate(Collection)
        .scalar_subquery()
    )
    newest = (Collection.updated_at.desc(), Collection.id.desc())
    ordered = stmt.order_by(popular.desc(), *newest) if sort == "trending" else stmt.order_by(*newest)
    with hub.db() as session:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(ordered.offset(max(0, offset)).limit(max(1, min(limit, 100)))).all()
        return [_view(actor, row) for row in rows], total
