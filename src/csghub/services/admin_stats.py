"""What a site administrator sees of the whole hub: its version, database and storage, disk space,
how many accounts, organizations, repositories and LFS objects it holds, and every repository.

Everything here is for site administrators only (authorize MANAGE on SITE).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import metadata

from sqlalchemy import case, func, select

import csghub
from csghub.db.models import LfsObject, Namespace, Repo, User
from csghub.services.context import Hub
from csghub.services.permissions import SITE, Action, Actor, authorize
from csghub.services.repositories import repos


@dataclass(frozen=True, slots=True)
class SiteStatus:
    version: str
    database: str  # "sqlite" | "postgresql"
    storage: str  # "local" | "s3 (bucket)"
    data_dir: str
    disk_total: int
    disk_used: int
    disk_free: int
    users: int
    admins: int
    disabled_users: int
    orgs: int
    # Repository type -> visibility -> count.
    repos: dict[str, dict[str, int]]
    lfs_objects: int
    lfs_bytes: int

    @property
    def repo_total(self) -> int:
        return sum(sum(by_visibility.values()) for by_visibility in self.repos.values())


def hub_version() -> str:
    """The installed distribution's version, else the package's own (a source checkout)."""
    try:
        return metadata.version("csghub")
    except metadata.PackageNotFoundError:
        return csghub.__version__


def site_status(hub: Hub, actor: Actor) -> SiteStatus:
    authorize(actor, Action.MANAGE, SITE)
    settings = hub.settings
    disk = shutil.disk_usage(settings.data_dir)
    storage = settings.storage if settings.storage != "s3" else f"s3 ({settings.s3_bucket})"
    with hub.db() as session:
        database = session.get_bind().dialect.name

        users, admins, disabled = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((User.is_admin.is_(True), 1), else_=0)), 0),
                func.coalesce(func.sum(case((User.disabled.is_(True), 1), else_=0)), 0),
            ).select_from(User)
        ).one()
        org_count = session.scalar(select(func.count()).select_from(Namespace).where(Namespace.kind == "org")) or 0
        by_type: dict[str, dict[str, int]] = {}
        for repo_type, visibility, n in session.execute(
            select(Repo.type, Repo.visibility, func.count()).group_by(Repo.type, Repo.visibility)
        ):
            by_type.setdefault(repo_type, {})[visibility] = n
        lfs_count, lfs_bytes = session.execute(select(func.count(), func.coalesce(func.sum(LfsObject.size), 0))).one()
    return SiteStatus(
        version=hub_version(),
        database=database,
        storage=storage,
        data_dir=str(settings.data_dir),
        disk_total=disk.total,
        disk_used=disk.used,
        disk_free=disk.free,
        users=int(users),
        admins=int(admins),
        disabled_users=int(disabled),
        orgs=org_count,
        repos=by_type,
        lfs_objects=int(lfs_count),
        lfs_bytes=int(lfs_bytes),
    )


def list_all_repos(hub: Hub, actor: Actor, query: repos.RepoQuery) -> tuple[list[repos.RepoView], int]:
    """Every repository of a type, private ones included, with the total for paging."""
    authorize(actor, Action.MANAGE, SITE)
    # A site administrator's visible set is everything (repos.visible_clause), so the shared
    # listing serves here unchanged.
    return repos.list_repos(hub, actor, query), repos.count_repos(hub, actor, query)
