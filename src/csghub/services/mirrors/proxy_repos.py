"""The repositories of the pull-through cache: which source is the upstream, which repositories it keeps,
making one here from the upstream's (git history only; objects come when asked for) and fetching its
new commits. services/mirrors/proxy.py decides when.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from csghub.core.errors import NotFound
from csghub.core.names import RepoId, RepoType, validate_namespace
from csghub.db.models import Mirror, MirrorSource, Namespace, OrgMember, Repo, utcnow
from csghub.git import remote
from csghub.git.repository import GitRepo
from csghub.services.context import Hub
from csghub.services.mirrors import cache_policy, proxy_upstream
from csghub.services.repositories import writes

log = logging.getLogger(__name__)
ALLOW_INTERVAL_S = 86400  # a scheduled mirror's interval, for names an "allow" rule names
VIA_PROXY = "mirror"


@dataclass(frozen=True, slots=True)
class ProxySource:
    """The source the cache brings repositories from, as read for one decision."""

    id: int
    name: str
    rules: list[dict[str, str]]
    object_max_bytes: int


@dataclass(frozen=True, slots=True)
class CachedRepo:
    repo_id: int
    source_id: int
    upstream_type: RepoType
    upstream_id: str
    mode: str
    last_synced_at: datetime | None


def upstream_of(row: MirrorSource) -> ProxySource:
    return ProxySource(row.id, row.name, cache_policy.load_rules(row.proxy_rules), row.object_max_bytes)


def upstream_sources(hub: Hub) -> list[ProxySource]:
    with hub.db() as session:
        rows = session.scalars(
            select(MirrorSource).where(MirrorSource.upstream_proxy.is_(True)).order_by(MirrorSource.id)
        )
        return [upstream_of(row) for row in rows]


def cached_repo(hub: Hub, repo_id: int) -> CachedRepo | None:
    """The repository's mirror when the pull-through cache's upstream may bring its objects."""
    with hub.db() as session:
        found = session.execute(
            select(Mirror.source_id, Mirror.upstream_type, Mirror.upstream_id, Mirror.mode, Mirror.last_synced_at)
            .join(MirrorSource, MirrorSource.id == Mirror.source_id)
            .where(Mirror.repo_id == repo_id, MirrorSource.upstream_proxy.is_(True))
        ).first()
    if found is None:
        return None
    return CachedRepo(repo_id, found[0], RepoType(found[1]), found[2], found[3], found[4])


def find(hub: Hub, repo_type: RepoType, repo_id: RepoId) -> int | None:
    with hub.db() as session:
        return session.scalar(
            select(Repo.id)
            .join(Namespace, Repo.namespace_id == Namespace.id)
            .where(
                Repo.type == repo_type.value,
                Namespace.name_key == repo_id.namespace.lower(),
                Repo.name_key == repo_id.name.lower(),
            )
        )


def make_repo(hub: Hub, source: ProxySource, repo_type: RepoType, repo_id: RepoId, action: str) -> bool:
    """The repository made here from the upstream's; False when the upstream has none to give. True also
    when another process made it first (its row's unique name stops this one, whose copy goes)."""
    with hub.db() as session:  # before any request to the upstream: a name of this hub's own stays its own
        _ours_to_fill(session, repo_id.namespace)
    visibility = proxy_upstream.visibility(hub, source.id, repo_type, str(repo_id))
    if visibility is None:
        return False
    staging = hub.settings.tmp_dir / f"proxy-repo-{secrets.token_hex(8)}.git"
    git = GitRepo.init_bare(staging)
    try:
        url, env = proxy_upstream.git_remote(hub, source.id, repo_type, str(repo_id))
        branch = remote.remote_default_branch(staging, url, env) or "main"
        remote.fetch_refs(staging, url, env)
        head = git.ref_target(f"refs/heads/{branch}") or ""
        if head:
            git.set_head(branch)
        try:
            with hub.db() as session:
                namespace = _system_namespace(session, repo_id.namespace)
                row = Repo(
                    type=repo_type.value,
                    namespace_id=namespace.id,
                    name=repo_id.name,
                    name_key=repo_id.name.lower(),
                    visibility=visibility,
                    default_branch=branch,
                    head_sha=head,
                )
                session.add(row)
                session.flush()  # another process that made it first stops us here
                sync = action == "allow"
                session.add(
                    Mirror(
                        repo_id=row.id,
                        source_id=source.id,
                        upstream_type=repo_type.value,
                        upstream_id=str(repo_id),
                        mode="sync" if sync else "cache",
                        interval_seconds=ALLOW_INTERVAL_S if sync else 0,
                        last_synced_at=utcnow(),
                        last_commit=head,
                        next_sync_at=utcnow() + timedelta(seconds=ALLOW_INTERVAL_S) if sync else None,
                    )
                )
                session.flush()
                made = row.id
                hub.repo_path(made).parent.mkdir(parents=True, exist_ok=True)
                os.rename(staging, hub.repo_path(made))  # visible with the row, whole
        except IntegrityError:
            return True
    finally:
        git.remove()  # the staging copy, if it was not moved into place
    git = hub.git(made)
    git.install_hooks()
    # Through the one after-write step, as a push would: the listeners (dataset viewer, spaces) see it.
    with writes.writing(hub, made):
        changes = writes.changes_between({}, git.all_ref_targets())
        writes.after_ref_update(hub, made, None, changes, action="mirror.sync", via=VIA_PROXY)
    log.info("pull-through: made %s %s from %s (%s)", repo_type.value, repo_id, source.name, visibility)
    return True


def _ours_to_fill(session: Session, name: str) -> Namespace | None:
    """The namespace named as the upstream's, if it exists and the cache may fill it: an organization
    without members (one the cache made). A user's or a real organization's namespace of that name is
    never filled from the upstream (its owner would own what was mirrored): NotFound."""
    validate_namespace(name)
    found = session.scalar(select(Namespace).where(Namespace.name_key == name.lower()))
    if found is not None:
        members = session.scalar(select(func.count()).select_from(OrgMember).where(OrgMember.org_id == found.id))
        if found.kind != "org" or members:
            raise NotFound(f"'{name}' is a namespace of this hub's own: nothing is brought into it")
    return found


def _system_namespace(session: Session, name: str) -> Namespace:
    """The namespace for what the cache brings from the upstream's namespace of that name, made when
    missing as an organization without members: sign-up cannot claim it, site administrators manage it."""
    found = _ours_to_fill(session, name)
    if found is not None:
        return found
    namespace = Namespace(name=name, name_key=name.lower(), kind="org", full_name=f"{name} (mirrored)")
    session.add(namespace)
    session.flush()
    return namespace


def fetch_into(hub: Hub, cached: CachedRepo) -> None:
    """Fetch the upstream's refs into the cached repository, through the one after-write step."""
    git = hub.git(cached.repo_id)
    url, env = proxy_upstream.git_remote(hub, cached.source_id, cached.upstream_type, cached.upstream_id)
    with writes.writing(hub, cached.repo_id):
        before = git.all_ref_targets()
        remote.fetch_refs(git.path, url, env)
        changes = writes.changes_between(before, git.all_ref_targets())
        writes.after_ref_update(hub, cached.repo_id, None, changes, action="mirror.sync", via=VIA_PROXY)
    with hub.db() as session:
        mirror = session.scalar(select(Mirror).where(Mirror.repo_id == cached.repo_id))
        if mirror is not None:
            mirror.last_synced_at = utcnow()
            mirror.last_error = ""
            head = session.scalar(select(Repo.head_sha).where(Repo.id == cached.repo_id))
            mirror.last_commit = head or mirror.last_commit
