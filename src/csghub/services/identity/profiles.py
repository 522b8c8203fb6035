"""Profiles of users and organizations: who they are, where they belong, and how many repositories of
each type the viewer may see. The repositories themselves come from repos.list_repos (same rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csghub.core.errors import NotFound
from csghub.core.names import RepoType
from csghub.services.context import Hub
from csghub.services.identity import accounts, orgs, profile_details
from csghub.services.identity.orgs import MemberView
from csghub.services.permissions import Action, Actor, NamespaceResource, can
from csghub.services.repositories import repos

REPO_TYPES = (RepoType.MODEL, RepoType.DATASET, RepoType.SPACE, RepoType.CODE)


@dataclass(frozen=True, slots=True)
class ProfileView:
    kind: str  # "user" | "org"
    name: str
    full_name: str
    created_at: datetime | None
    # A user's organizations (name, role); empty for organizations.
    orgs: list[tuple[str, str]]
    # An organization's members; empty for users.
    members: list[MemberView]
    # Repositories of each type the viewer may see.
    counts: dict[RepoType, int]
    # The viewer administers this namespace (an org admin, a site admin; for users, themselves).
    can_manage: bool
    # The viewer is this user (their own profile offers their settings and a new organization).
    is_self: bool = False
    # What it says about itself: bio, links, avatar (services/identity/profile_details).
    details: profile_details.ProfileDetails | None = None


def get_profile(hub: Hub, viewer: Actor, name: str) -> ProfileView:
    """The profile of user or organization `name`, as `viewer` may see it; NotFound when neither."""
    counts = {t: repos.count_repos(hub, viewer, repos.RepoQuery(repo_type=t, author=name, limit=1)) for t in REPO_TYPES}
    manage = can(viewer, Action.MANAGE, NamespaceResource(name))
    user = accounts.find_user_view(hub, name)
    if user is not None:
        joined = sorted(accounts.list_user_orgs(hub, user.id), key=lambda pair: pair[0].lower())
        is_self = viewer.user_id == user.id
        details = profile_details.get_details(hub, user.name)
        return ProfileView(
            "user", user.name, user.full_name, user.created_at, joined, [], counts, manage, is_self, details
        )
    try:
        org = orgs.get_org(hub, name)
    except NotFound:
        raise NotFound(f"'{name}' does not exist") from None
    members = orgs.list_members(hub, org.name)
    details = profile_details.get_details(hub, org.name)
    return ProfileView("org", org.name, org.full_name, org.created_at, [], members, counts, manage, details=details)


def list_profile_repos(
    hub: Hub, viewer: Actor, name: str, repo_type: RepoType, *, limit: int = 30, offset: int = 0
) -> list[repos.RepoView]:
    """The namespace's repositories of one type that `viewer` may see, recently updated first."""
    query = repos.RepoQuery(repo_type=repo_type, author=name, sort="lastModified", limit=limit, offset=offset)
    return repos.list_repos(hub, viewer, query)
