"""Repositories: create, find, list, rename, change visibility, delete; and their metadata.

Owns the `repos` rows and the bare git directories; a repo's directory is named by its id.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict, InvalidArgument, NotFound
from csghub.core.names import RepoId, RepoType, validate_ref_name
from csghub.db.models import (
    DatasetConversion,
    LfsObject,
    Mirror,
    MirrorSource,
    Namespace,
    Repo,
    RepoDownloadDay,
    RepoLfsObject,
    RepoLfsUpload,
    utcnow,
)
from csghub.git import write_lock
from csghub.git.lfs import default_gitattributes
from csghub.git.repository import FileChange, GitRepo
from csghub.services import audit
from csghub.services.context import Hub, RepoEvent
from csghub.services.permissions import (
    VISIBILITIES,
    Action,
    Actor,
    NamespaceResource,
    RepoResource,
    authorize,
    can,
    repo_not_found,
)
from csghub.services.repositories.cards import derive_tags, parse_card_data
from csghub.services.repositories.downloads import trending_since
from csghub.services.xet.gc import collect_garbage

log = logging.getLogger(__name__)
GATE_MODES = ("", "auto", "manual")
# How long a writer waits for the writers of the same repository ahead of it (services/repositories/writes.py).
WRITE_WAIT_S = 300.0


def check_visibility(visibility: str) -> str:
    if visibility not in VISIBILITIES:
        raise InvalidArgument(f"Invalid visibility '{visibility}': expected public, internal or private")
    return visibility


# The card field naming a repository's tasks: datasets list them as the Hub's dataset cards do.
TASK_FIELDS = {RepoType.DATASET: "task_categories"}


@dataclass(frozen=True, slots=True)
class RepoView:
    id: int
    type: RepoType
    namespace: str
    name: str
    visibility: str
    gated: str
    default_branch: str
    description: str
    card_data: dict[str, Any]
    tags: list[str]
    head_sha: str
    downloads: int
    likes: int
    created_at: datetime
    updated_at: datetime
    # A dataset's row count as converted for the viewer (services/datasets); listings fill it in.
    num_rows: int | None = None
    # "source:ns/name" when this repository mirrors another hub (read-only); the reads that authorize fill it in.
    mirror_of: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def private(self) -> bool:
        """What Hugging Face clients call private: anything not visible to anonymous users."""
        return self.visibility != "public"

    @property
    def tasks(self) -> list[str]:
        """What the card says the repository is for: a model's pipeline_tag, a dataset's task_categories."""
        value = self.card_data.get(TASK_FIELDS.get(self.type, "pipeline_tag"))
        values = value if isinstance(value, list) else [value]
        return [str(v) for v in values if isinstance(v, str | int | float) and str(v)]

    @property
    def languages(self) -> list[str]:
        value = self.card_data.get("language")
        values = value if isinstance(value, list) else [value]
        return [str(v) for v in values if isinstance(v, str | int | float) and str(v)]

    @property
    def size_category(self) -> str:
        """A dataset's size category as listings show it: its card's, else its row count's ('' if none)."""
        return next((t.removeprefix("size_categories:") for t in self.tags if t.startswith("size_categories:")), "")

    @property
    def resource(self) -> RepoResource:
        label = f"{self.type.value} {self.full_name}"
        return RepoResource(self.id, self.namespace, self.visibility, label, self.gated, self.mirror_of)


def row_resource(row: Repo, namespace: str) -> RepoResource:
    """What authorize() needs of a repository row whose namespace's name is at hand (no mirror lookup:
    for reads, which a mirror allows as any repository does)."""
    return RepoResource(row.id, namespace, row.visibility, f"{row.type} {namespace}/{row.name}", row.gated)


def _view(row: Repo, num_rows: int | None = None) -> RepoView:
    return RepoView(
        id=row.id,
        type=RepoType(row.type),
        namespace=row.namespace.name,
        name=row.name,
        visibility=row.visibility,
        gated=row.gated,
        default_branch=row.default_branch,
        description=row.description,
        card_data=json.loads(row.card_data or "{}"),
        tags=json.loads(row.tags or "[]"),
        head_sha=row.head_sha,
        downloads=row.downloads,
        likes=row.likes,
        created_at=row.created_at,
        updated_at=row.updated_at,
        num_rows=num_rows,
    )


def _mirror_of(session: Session, repo_id: int) -> str:
    """What the repository mirrors, as "source:ns/name"; "" when it is no mirror."""
    found = session.execute(
        select(MirrorSource.name, Mirror.upstream_id)
        .join(MirrorSource, MirrorSource.id == Mirror.source_id)
        .where(Mirror.repo_id == repo_id)
    ).first()
    return f"{found[0]}:{found[1]}" if found is not None else ""


def _marked(session: Session, row: Repo) -> RepoView:
    """The view of one repository read to authorize an action on it: with its mirror mark."""
    return dataclasses.replace(_view(row), mirror_of=_mirror_of(session, row.id))


def _find_row(session: Session, repo_type: RepoType, namespace: str, name: str) -> Repo | None:
    return session.scalar(
        select(Repo)
        .join(Namespace, Repo.namespace_id == Namespace.id)
        .where(
            Repo.type == repo_type.value,
            Namespace.name_key == namespace.lower(),
            Repo.name_key == name.lower(),
        )
    )


def _cache_key(repo_type: RepoType, repo_id: RepoId) -> tuple[str, str, str, str]:
    return ("repo", repo_type.value, repo_id.namespace.lower(), repo_id.name.lower())


def _read_view(hub: Hub, repo_type: RepoType, repo_id: RepoId, *, bring: bool = False) -> RepoView | None:
    """The row as it is now, kept in hub.reads; None when there is none. With `bring` (reads only), a
    repository this hub lacks may be brought from an upstream first (hub.missing: the pull-through cache)."""
    generation = hub.reads.generation
    with hub.db() as session:
        row = _find_row(session, repo_type, repo_id.namespace, repo_id.name)
        view = None if row is None else _marked(session, row)
    if view is None and bring and any(source.materialize(hub, repo_type, repo_id) for source in hub.missing):
        return _read_view(hub, repo_type, repo_id)
    if view is not None:
        hub.reads.put(_cache_key(repo_type, repo_id), view, generation)
        for source in hub.missing:
            source.seen(hub, view.id)
    return view


# Only reads bring a missing repository from an upstream: a push to a name this hub lacks stays a 404.
_BRINGS = (Action.READ, Action.DOWNLOAD)


def _authorized(view: RepoView | None, actor: Actor, repo_type: RepoType, repo_id: RepoId, action: Action) -> RepoView:
    if view is None:
        raise repo_not_found(actor, f"{repo_type.value} {repo_id}")
    authorize(actor, action, view.resource)
    return view


def get_repo(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, action: Action = Action.READ) -> RepoView:
    """The repo if `actor` may do `action` on it; missing and invisible repos look alike."""
    return _authorized(_read_view(hub, repo_type, repo_id, bring=action in _BRINGS), actor, repo_type, repo_id, action)


def shared_repo(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, action: Action = Action.READ) -> RepoView:
    """get_repo for the hot reads, after cached_repo found nothing: of the requests that ask for the
    same row at once, one reads it and the others take what it kept (read_cache.OneLoadPerKey)."""
    key = _cache_key(repo_type, repo_id)
    bring = action in _BRINGS
    view = hub.reads.loads.load(
        key, lambda: hub.reads.get(key), lambda: _read_view(hub, repo_type, repo_id, bring=bring)
    )
    return _authorized(view, actor, repo_type, repo_id, action)


def cached_repo(
    hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, action: Action = Action.READ
) -> RepoView | None:
    """What `get_repo` read in the last seconds (no write committed since), authorized the same way;
    None when it is not at hand, and the caller asks `get_repo` (off the event loop)."""
    view: RepoView | None = hub.reads.get(_cache_key(repo_type, repo_id))
    if view is not None:
        authorize(actor, action, view.resource)
    return view


# Answers encoded from one read of a repository row at one commit (model info): bigger ones are not kept.
MAX_CACHED_ANSWER = 256 * 1024


def cached_answer(hub: Hub, view: RepoView, key: tuple[object, ...]) -> tuple[bytes | None, int]:
    """The answer kept for `key` if it was encoded from this same read of the row (not only the same
    commit), and the cache generation under which a freshly encoded one may be kept."""
    generation = hub.reads.generation
    cached: tuple[RepoView, bytes] | None = hub.reads.get(key)
    if cached is not None and cached[0] is view:
        return cached[1], generation
    return None, generation


def keep_answer(hub: Hub, view: RepoView, key: tuple[object, ...], body: bytes, generation: int) -> None:
    """Keep an encoded answer unless a write committed since `generation` (read_cache.py drops it then)."""
    if len(body) <= MAX_CACHED_ANSWER:
        hub.reads.put(key, (view, body), generation, size=len(body))


def get_repo_by_id(hub: Hub, repo_id: int) -> RepoView:
    with hub.db() as session:
        row = session.get(Repo, repo_id)
        if row is None:
            raise NotFound(f"Repository #{repo_id} does not exist")
        return _marked(session, row)


def create_repo(
    hub: Hub,
    actor: Actor,
    repo_type: RepoType,
    repo_id: RepoId,
    *,
    visibility: str = "public",
    description: str = "",
    default_branch: str = "main",
    license: str = "",
    card: dict[str, str] | None = None,
) -> RepoView:
    """`card`: front matter for a first README (a space's `sdk`, as Hugging Face writes one)."""
    authorize(actor, Action.CREATE, NamespaceResource(repo_id.namespace))
    check_visibility(visibility)
    validate_ref_name(default_branch, what="branch")
    with hub.db() as session:
        ns = session.scalar(select(Namespace).where(Namespace.name_key == repo_id.namespace.lower()))
        if ns is None:
            raise NotFound(f"Namespace '{repo_id.namespace}' does not exist")
        if _find_row(session, repo_type, repo_id.namespace, repo_id.name) is not None:
            raise Conflict(f"You already created this {repo_type.value} repo: {repo_id}", code="RepoExists")
        row = Repo(
            type=repo_type.value,
            namespace_id=ns.id,
            name=repo_id.name,
            name_key=repo_id.name.lower(),
            visibility=visibility,
            description=description,
            default_branch=default_branch,
            created_by=actor.user_id,
        )
        session.add(row)
        session.flush()
        git = GitRepo.init_bare(hub.repo_path(row.id), default_branch)
        try:
            fields = {**(card or {}), **({"license": license} if license else {})}
            sha = _initial_commit(git, repo_id, default_branch, fields, actor)
            row.head_sha = sha
            row.card_data = json.dumps(fields)
            row.tags = json.dumps([f"license:{license}"] if license else [])
            session.flush()
            view = _view(row)
            audit.record(
                session,
                actor,
                "repo.create",
                namespace=repo_id.namespace,
                target=f"{repo_type.value}:{repo_id}",
                detail={"visibility": visibility},
            )
            hub.announce(session, RepoEvent(row.id, "repo", "create"))
        except BaseException:
            git.remove()
            raise
    return view


def _initial_commit(git: GitRepo, repo_id: RepoId, branch: str, card: dict[str, str], actor: Actor) -> str:
    # Only `.gitattributes`, as on the Hub: a placeholder card makes `datasets` warn on every load and
    # is not what huggingface_hub users expect. A chosen license (or a space's sdk) needs a card to live in.
    changes = [FileChange(".gitattributes", git.write_blob(default_gitattributes().encode()))]
    if card:
        front = "".join(f"{key}: {value}\n" for key, value in card.items())
        readme = f"---\n{front}---\n\n# {repo_id.name}\n"
        changes.append(FileChange("README.md", git.write_blob(readme.encode())))
    sha = git.create_commit(
        parent=None,
        changes=changes,
        deleted_folders=[],
        message="Initial commit",
        author_name=actor.name,
        author_email=f"{actor.name}@users.noreply.csghub" if actor.name else "",
    )
    git.update_ref(f"refs/heads/{branch}", sha, None)
    return sha


def delete_repo(hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId) -> None:
    """Delete the row, the git directory, and LFS objects no other repository references."""
    view = get_repo(hub, actor, repo_type, repo_id, Action.ADMIN)
    for listener in hub.repo_delete_listeners:
        listener(hub, view.id)
    with write_lock.hold(hub.repo_path(view.id), WRITE_WAIT_S), hub.db() as session:
        oids = list(session.scalars(select(RepoLfsObject.oid).where(RepoLfsObject.repo_id == view.id)))
        uploaded = session.scalars(select(RepoLfsUpload.oid).where(RepoLfsUpload.repo_id == view.id))
        oids = sorted(set(oids).union(uploaded))
        hub.announce(session, RepoEvent(view.id, "repo", "delete"))  # while its row is there to describe it
        session.execute(delete(RepoLfsObject).where(RepoLfsObject.repo_id == view.id))
        session.execute(delete(RepoLfsUpload).where(RepoLfsUpload.repo_id == view.id))
        session.execute(delete(Repo).where(Repo.id == view.id))
        orphans = _unreferenced(session, oids)
        session.execute(delete(LfsObject).where(LfsObject.oid.in_(orphans)))
        audit.record(session, actor, "repo.delete", namespace=view.namespace, target=f"{repo_type.value}:{repo_id}")
    hub.git(view.id).remove()
    for oid in orphans:
        hub.blobs.delete(oid)
    _collect_xet_soon(hub)


def _collect_xet_soon(hub: Hub) -> None:
    """Xet chunks the deleted repository alone used are freed off the request path."""

    def run() -> None:
        try:
            collect_garbage(hub)
        except Exception:  # a background process boundary: log, never crash the server
            log.exception("xet garbage collection failed")

    threading.Thread(target=run, name="xet-gc", daemon=True).start()


def _unreferenced(session: Session, oids: list[str]) -> list[str]:
    if not oids:
        return []
    still = set(session.scalars(select(RepoLfsObject.oid).where(RepoLfsObject.oid.in_(oids))))
    # Bytes another repository uploaded and has yet to commit are still that repository's.
    still |= set(session.scalars(select(RepoLfsUpload.oid).where(RepoLfsUpload.oid.in_(oids))))
    return [oid for oid in oids if oid not in still]


def move_repo(hub: Hub, actor: Actor, repo_type: RepoType, source: RepoId, target: RepoId) -> RepoView:
    view = get_repo(hub, actor, repo_type, source, Action.ADMIN)
    authorize(actor, Action.CREATE, NamespaceResource(target.namespace))
    with hub.db() as session:
        ns = session.scalar(select(Namespace).where(Namespace.name_key == target.namespace.lower()))
        if ns is None:
            raise NotFound(f"Namespace '{target.namespace}' does not exist")
        clash = _find_row(session, repo_type, target.namespace, target.name)
        if clash is not None and clash.id != view.id:
            raise Conflict(f"A {repo_type.value} named {target} already exists")
        row = session.get(Repo, view.id)
        assert row is not None
        row.namespace_id, row.name, row.name_key = ns.id, target.name, target.name.lower()
        row.updated_at = utcnow()
        session.flush()
        session.refresh(row)
        detail = {"from": str(source), "to": str(target)}
        audit.record(
            session,
            actor,
            "repo.rename",
            namespace=source.namespace,
            target=f"{repo_type.value}:{target}",
            detail=detail,
        )
        hub.announce(session, RepoEvent(view.id, "repo", "move", {"from": str(source)}))
        if target.namespace.lower() != source.namespace.lower():
            audit.record(
                session,
                actor,
                "repo.rename",
                namespace=target.namespace,
                target=f"{repo_type.value}:{target}",
                detail=detail,
            )
        return _view(row)


def update_settings(
    hub: Hub,
    actor: Actor,
    repo_type: RepoType,
    repo_id: RepoId,
    *,
    visibility: str | None = None,
    gated: str | None = None,
    description: str | None = None,
    default_branch: str | None = None,
) -> RepoView:
    view = get_repo(hub, actor, repo_type, repo_id, Action.ADMIN)
    if visibility is not None:
        check_visibility(visibility)
    if gated is not None and gated not in GATE_MODES:
        raise InvalidArgument(f"Invalid gated mode '{gated}': expected 'auto', 'manual' or false")
    if default_branch is not None:
        git = hub.git(view.id)
        if git.ref_target(f"refs/heads/{validate_ref_name(default_branch)}") is None:
            raise InvalidArgument(f"Branch '{default_branch}' does not exist")
        git.set_head(default_branch)
    with hub.db() as session:
        row = session.get(Repo, view.id)
        assert row is not None
        if visibility is not None and visibility != row.visibility:
            audit.record(
                session,
                actor,
                "repo.visibility",
                namespace=view.namespace,
                target=f"{repo_type.value}:{repo_id}",
                detail={"from": row.visibility, "to": visibility},
            )
            row.visibility = visibility
        if gated is not None and gated != row.gated:
            audit.record(
                session,
                actor,
                "repo.gated",
                namespace=view.namespace,
                target=f"{repo_type.value}:{repo_id}",
                detail={"gated": gated or False},
            )
            row.gated = gated
        if description is not None:
            row.description = description
        if default_branch is not None:
            row.default_branch = default_branch
        row.updated_at = utcnow()
        session.flush()
        view = _view(row)
        changed = _changed_config(visibility=visibility, gated=gated, description=description, branch=default_branch)
        if changed:
            hub.announce(session, RepoEvent(view.id, "repo.config", "update", {"updatedConfig": changed}))
    if default_branch is not None:
        refresh_metadata(hub, view.id)
    return view


def _changed_config(
    *, visibility: str | None, gated: str | None, description: str | None, branch: str | None
) -> dict[str, Any]:
    """What a settings change set, as Hugging Face's webhooks name it (`updatedConfig`)."""
    changed: dict[str, Any] = {}
    if visibility is not None:
        changed["private"] = visibility != "public"
        changed["visibility"] = visibility
    if gated is not None:
        changed["gated"] = gated or False
    if description is not None:
        changed["description"] = description
    if branch is not None:
        changed["defaultBranch"] = branch
    return changed


@dataclass(frozen=True, slots=True)
class RepoQuery:
    repo_type: RepoType
    search: str = ""  # in the repository id, as Hugging Face's `search` parameter
    text: str = ""  # in the id, description, tags and card metadata: the portal's search box
    author: str = ""
    tags: tuple[str, ...] = ()
    sort: str = "lastModified"
    descending: bool = True
    limit: int = 50
    offset: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    # Bytes stored in LFS/Xet, [low, high) with None for no upper bound: the listings' size filter.
    stored: tuple[int, int | None] | None = None


_SORT_COLUMNS: dict[str, Any] = {
    "lastModified": Repo.updated_at,
    "last_modified": Repo.updated_at,
    "updated_at": Repo.updated_at,
    "createdAt": Repo.created_at,
    "created_at": Repo.created_at,
    "downloads": Repo.downloads,
    "likes": Repo.likes,
    "id": Repo.name_key,
    "name": Repo.name_key,
}
_TRENDING = ("trending", "trending_score", "trendingScore")


def _filtered(stmt: Any, actor: Actor, query: RepoQuery, *, any_type: bool = False) -> Any:
    stmt = stmt.join(Namespace, Repo.namespace_id == Namespace.id)
    if not any_type:
        stmt = stmt.where(Repo.type == query.repo_type.value)
    visible = visible_clause(actor)
    if visible is not None:
        stmt = stmt.where(visible)
    if query.author:
        stmt = stmt.where(Namespace.name_key == query.author.lower())
    if query.search:
        needle = f"%{query.search.lower()}%"
        stmt = stmt.where(func.lower(Namespace.name + "/" + Repo.name).like(needle))
    if query.text:
        needle = f"%{query.text.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Namespace.name + "/" + Repo.name).like(needle),
                func.lower(Repo.description).like(needle),
                func.lower(Repo.tags).like(needle),
                func.lower(Repo.card_data).like(needle),
            )
        )
    for tag in query.tags:
        # Tags are a JSON list of strings; match the quoted element.
        stmt = stmt.where(Repo.tags.like(f"%{json.dumps(tag)}%"))
    if query.stored is not None:
        low, high = query.stored
        size = stored_size()
        stmt = stmt.where(size >= low) if high is None else stmt.where(size >= low, size < high)
    return stmt


def stored_size() -> Any:
    """SQL for the bytes a repository's large files take: the LFS (and Xet) objects its commits named.
    Small files live in git and are left out: they weigh nothing next to a model's weights."""
    return (
        select(func.coalesce(func.sum(LfsObject.size), 0))
        .join(RepoLfsObject, RepoLfsObject.oid == LfsObject.oid)
        .where(RepoLfsObject.repo_id == Repo.id)
        .scalar_subquery()
    )


def scan_repos(hub: Hub, actor: Actor, query: RepoQuery, *, limit: int) -> list[tuple[str, str, int]]:
    """The card (JSON text), tags (JSON text) and stored size of the first `limit` repositories the
    actor may read that match `query`, recently updated first: what the listing's facet counts read."""
    stmt = _filtered(select(Repo.card_data, Repo.tags, stored_size()), actor, query)
    stmt = stmt.order_by(Repo.updated_at.desc(), Repo.id.desc()).limit(limit)
    with hub.db() as session:
        return [(card or "{}", tags or "[]", int(size or 0)) for card, tags, size in session.execute(stmt)]


def _sort_key(sort: str) -> Any:
    """A column, or for trending the downloads of the last days (likes, then freshness, break ties)."""
    if sort in _TRENDING:
        return (
            select(func.coalesce(func.sum(RepoDownloadDay.count), 0))
            .where(RepoDownloadDay.repo_id == Repo.id, RepoDownloadDay.day >= trending_since())
            .scalar_subquery()
        )
    if sort not in _SORT_COLUMNS:
        choices = ", ".join(sorted([*_SORT_COLUMNS, *_TRENDING]))
        raise InvalidArgument(f"Cannot sort by '{sort}': use one of {choices}")
    return _SORT_COLUMNS[sort]


def list_repos(hub: Hub, actor: Actor, query: RepoQuery) -> list[RepoView]:
    column = _sort_key(query.sort)
    stmt = _filtered(select(Repo, DatasetConversion.num_rows), actor, query)
    stmt = stmt.outerjoin(DatasetConversion, DatasetConversion.repo_id == Repo.id)
    order = [column.desc() if query.descending else column.asc()]
    if query.sort in _TRENDING:
        order += [Repo.likes.desc(), Repo.updated_at.desc()]
    stmt = stmt.order_by(*order, Repo.id.desc())
    stmt = stmt.offset(query.offset).limit(query.limit)
    with hub.db() as session:
        return [_view(row, num_rows) for row, num_rows in session.execute(stmt)]


def list_repos_counted(hub: Hub, actor: Actor, query: RepoQuery) -> tuple[list[RepoView], int]:
    """A page of `list_repos` and how many repositories all its pages hold."""
    return list_repos(hub, actor, query), count_repos(hub, actor, query)


def list_each_type(
    hub: Hub, actor: Actor, query: RepoQuery, *, per_type: int
) -> dict[RepoType, tuple[list[RepoView], int]]:
    """`query` (its repo_type aside) over every type at once: the first `per_type` of each type in the
    query's order, and how many of that type match. One statement, for the search-as-you-type route."""
    column = _sort_key(query.sort)
    order = column.desc() if query.descending else column.asc()
    rank = func.row_number().over(partition_by=Repo.type, order_by=(order, Repo.id.desc())).label("rank")
    total = func.count().over(partition_by=Repo.type).label("total")
    ranked = _filtered(select(Repo.id, rank, total).select_from(Repo), actor, query, any_type=True).subquery()
    stmt = select(Repo, ranked.c.total).join(ranked, ranked.c.id == Repo.id)
    stmt = stmt.where(ranked.c.rank <= max(per_type, 1)).order_by(Repo.type, ranked.c.rank)
    found: dict[RepoType, tuple[list[RepoView], int]] = {t: ([], 0) for t in RepoType}
    with hub.db() as session:
        for row, count in session.execute(stmt):
            views, _ = found[RepoType(row.type)]
            views.append(_view(row))
            found[RepoType(row.type)] = (views, int(count))
    if per_type <= 0:
        found = {t: ([], n) for t, (_, n) in found.items()}
    return found


def find_row_count(hub: Hub, repo_id: int) -> int | None:
    """A dataset's row count as its last conversion found it; None before one finished."""
    with hub.db() as session:
        return session.scalar(select(DatasetConversion.num_rows).where(DatasetConversion.repo_id == repo_id))


def count_repos(hub: Hub, actor: Actor, query: RepoQuery) -> int:
    """How many repositories `list_repos` would page through: the same filters, visible ones only."""
    with hub.db() as session:
        return session.scalar(_filtered(select(func.count()).select_from(Repo), actor, query)) or 0


def visible_clause(actor: Actor) -> ColumnElement[bool] | None:
    """SQL for the repositories `actor` may read, the same set can(actor, READ, ...) allows; None: all."""
    if actor.is_admin and actor.scope != "fine":
        return None
    visible: list[ColumnElement[bool]] = [Repo.visibility == "public"]
    if actor.is_anonymous:
        return or_(*visible)
    namespaces = [actor.name.lower(), *actor.org_roles]
    repo_ids = list(actor.repo_roles)
    if actor.scope == "fine":
        granted_ns = {str(g.target) for g in actor.grants if g.kind == "namespace" and "read" in g.actions}
        granted_repos = {int(g.target) for g in actor.grants if g.kind == "repo" and "read" in g.actions}
        if actor.is_admin:
            visible.append(Namespace.name_key.in_(granted_ns))
            visible.append(Repo.id.in_(granted_repos))
            return or_(*visible)
        reachable = or_(Repo.visibility == "internal", Namespace.name_key.in_(namespaces), Repo.id.in_(repo_ids))
        visible.append(and_(reachable, or_(Namespace.name_key.in_(granted_ns), Repo.id.in_(granted_repos))))
        return or_(*visible)
    visible += [Repo.visibility == "internal", Namespace.name_key.in_(namespaces), Repo.id.in_(repo_ids)]
    return or_(*visible)


def refresh_metadata(
    hub: Hub, repo_id: int, also: Callable[[Session, RepoView], None] | None = None, *, touch: bool = True
) -> None:
    """Re-read the default branch: head sha, README front matter as cardData, tags; `also` writes in
    the same transaction (the after-write step's audit record). `touch` marks the repository as just
    modified (its lastModified); the hub's own bookkeeping (the dataset viewer's conversion) does not."""
    view = get_repo_by_id(hub, repo_id)
    git = hub.git(repo_id)
    try:
        sha = git.resolve(view.default_branch)
    except NotFound:
        if also is not None:
            with hub.db() as session:
                also(session, view)
        return
    card: dict[str, Any] = {}
    try:
        readme = git.entry(sha, "README.md")
        if readme.kind == "file" and readme.lfs is None and readme.size < 1024 * 1024:
            card = parse_card_data(git.read_small_blob(readme.oid).decode("utf-8", errors="replace"))
    except NotFound:
        pass
    paths = [e.path for e in git.list_tree(sha, recursive=True) if e.kind == "file"]
    with hub.db() as session:
        row = session.get(Repo, repo_id)
        if row is None:
            return
        row.head_sha = sha
        row.card_data = json.dumps(card)
        # A dataset's row count as its last conversion found it (services/datasets/conversions.py calls
        # this again once it recorded one); none, or 0 for a dataset without data, has no size category.
        num_rows = session.scalar(select(DatasetConversion.num_rows).where(DatasetConversion.repo_id == repo_id))
        dataset, space = view.type is RepoType.DATASET, view.type is RepoType.SPACE
        row.tags = json.dumps(derive_tags(card, paths, dataset=dataset, space=space, num_rows=num_rows or None))
        if touch:
            row.updated_at = utcnow()
        if also is not None:
            also(session, view)


def viewable(actor: Actor, view: RepoView) -> bool:
    return can(actor, Action.READ, view.resource)
