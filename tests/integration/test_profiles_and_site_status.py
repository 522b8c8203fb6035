"""Profiles and the site administrator's views on a real hub (SQLite, local storage): what each viewer
may count and list, and that only site administrators see the whole hub."""

from __future__ import annotations

from pathlib import Path

import pytest

from csghub.config import load_settings
from csghub.core.errors import NotFound, PermissionDenied
from csghub.core.names import RepoId, RepoType
from csghub.services import admin_stats, audit
from csghub.services.context import Hub
from csghub.services.identity import accounts, orgs, profiles
from csghub.services.permissions import ANONYMOUS, Actor
from csghub.services.repositories import repos
from csghub.wiring import build_hub

PASSWORD = "profile passphrase 7"


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return build_hub(load_settings({}, None, {"data_dir": tmp_path / "data"}))


def _actor(hub: Hub, name: str, *, admin: bool = False) -> Actor:
    view = accounts.create_user(hub, name, email=f"{name}@example.com", password=PASSWORD, is_admin=admin)
    return accounts.actor_from_user_id(hub, view.id)


def test_profile_counts_only_what_the_viewer_may_see(hub: Hub) -> None:
    alice, stranger = _actor(hub, "alice"), _actor(hub, "stranger")
    orgs.create_org(hub, "lab", owner="alice", full_name="The Lab", actor=alice)
    alice = accounts.actor_from_user_id(hub, alice.user_id or 0)
    repos.create_repo(hub, alice, RepoType.MODEL, RepoId.of("lab", "open"))
    repos.create_repo(hub, alice, RepoType.MODEL, RepoId.of("lab", "secret"), visibility="private")
    repos.create_repo(hub, alice, RepoType.DATASET, RepoId.of("lab", "data"), visibility="internal")

    seen = profiles.get_profile(hub, alice, "LAB")
    assert (seen.kind, seen.name, seen.full_name, seen.can_manage) == ("org", "lab", "The Lab", True)
    assert [(m.user, m.role) for m in seen.members] == [("alice", "admin")]
    assert seen.counts[RepoType.MODEL] == 2 and seen.counts[RepoType.DATASET] == 1
    assert profiles.get_profile(hub, stranger, "lab").counts[RepoType.MODEL] == 1
    anonymous = profiles.get_profile(hub, ANONYMOUS, "lab")
    assert anonymous.counts[RepoType.DATASET] == 0 and not anonymous.can_manage
    listed = profiles.list_profile_repos(hub, stranger, "lab", RepoType.MODEL)
    assert [r.name for r in listed] == ["open"]

    me = profiles.get_profile(hub, alice, "alice")
    assert me.kind == "user" and me.is_self and me.orgs == [("lab", "admin")]
    assert not profiles.get_profile(hub, stranger, "alice").is_self
    with pytest.raises(NotFound):
        profiles.get_profile(hub, alice, "nobody")


def test_site_views_are_for_site_administrators_only(hub: Hub) -> None:
    root, bob = _actor(hub, "root", admin=True), _actor(hub, "bob")
    orgs.create_org(hub, "team", owner="bob", actor=bob)
    bob = accounts.actor_from_user_id(hub, bob.user_id or 0)
    repos.create_repo(hub, bob, RepoType.MODEL, RepoId.of("team", "hidden"), visibility="private")
    accounts.update_user(hub, root, "bob", disabled=True)

    for look in (
        lambda: admin_stats.site_status(hub, bob),
        lambda: orgs.list_orgs(hub, bob),
        lambda: audit.list_actions(hub, bob),
        lambda: admin_stats.list_all_repos(hub, bob, repos.RepoQuery(repo_type=RepoType.MODEL)),
    ):
        with pytest.raises(PermissionDenied):
            look()

    status = admin_stats.site_status(hub, root)
    assert (status.users, status.admins, status.disabled_users, status.orgs) == (2, 1, 1, 1)
    assert status.repos == {"model": {"private": 1}} and status.repo_total == 1
    assert status.database == "sqlite" and status.storage == "local" and status.version
    assert status.disk_total >= status.disk_free > 0 and status.lfs_objects == 0
    assert [o.name for o in orgs.list_orgs(hub, root, search="TE")] == ["team"]
    found, total = admin_stats.list_all_repos(hub, root, repos.RepoQuery(repo_type=RepoType.MODEL))
    assert total == 1 and [(r.full_name, r.visibility) for r in found] == [("team/hidden", "private")]
    assert {"org.create", "repo.create", "user.disable"} <= set(audit.list_actions(hub, root))
