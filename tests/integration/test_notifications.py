"""Notifications in process, on the configured database: who hears of each event (owners, participants,
mentions, access requests, invitations), never the actor, never about a repository the reader can no
longer read (listed or counted), marking read, and the bound on what each person keeps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from csghub.config import load_settings
from csghub.core.errors import NotFound, Unauthenticated
from csghub.core.names import RepoId, RepoType
from csghub.services.community import discussions, notifications
from csghub.services.context import Hub
from csghub.services.identity import accounts, orgs
from csghub.services.permissions import ANONYMOUS, Actor
from csghub.services.repositories import gating, repos
from csghub.wiring import build_hub
from tests.conftest import fresh_database_url

MODEL = RepoType.MODEL


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    overrides: dict[str, Any] = {"data_dir": tmp_path / "data"}
    if url := fresh_database_url():
        overrides["database_url"] = url
    return build_hub(load_settings({}, None, overrides))


def _user(hub: Hub, name: str) -> Actor:
    view = accounts.create_user(hub, name, email=f"{name}@example.com")
    return accounts.actor_from_user_id(hub, view.id)


def _fresh(hub: Hub, actor: Actor) -> Actor:
    assert actor.user_id is not None
    return accounts.actor_from_user_id(hub, actor.user_id)


def _kinds(hub: Hub, actor: Actor) -> list[tuple[str, str]]:
    page = notifications.list_notifications(hub, _fresh(hub, actor))
    return [(n.kind, n.actor) for n in page.items]


def test_new_discussion_tells_the_owner_and_mentions_not_the_actor(hub: Hub) -> None:
    alice, bob, carol, dave = (_user(hub, n) for n in ("alice", "bob", "carol", "dave"))
    repos.create_repo(hub, alice, MODEL, RepoId.of("alice", "m"))
    text = "Hi @carol and @nobody-here, mail me at bob@example.com; `@dave` is code.\n\n```\n@dave\n```\n@bob"
    discussions.open_discussion(hub, bob, MODEL, RepoId.of("alice", "m"), "A question", text)
    assert _kinds(hub, alice) == [("discussion", "bob")]
    assert _kinds(hub, carol) == [("mention", "bob")]
    assert _kinds(hub, bob) == []  # mentioning oneself tells nobody
    assert _kinds(hub, dave) == []  # inside code
    item = notifications.list_notifications(hub, _fresh(hub, alice)).items[0]
    assert (item.repo, item.number, item.title, item.read) == ("alice/m", 1, "A question", False)


def test_comments_and_status_changes_reach_participants(hub: Hub) -> None:
    alice, bob, carol = (_user(hub, n) for n in ("alice", "bob", "carol"))
    rid = RepoId.of("alice", "m")
    repos.create_repo(hub, alice, MODEL, rid)
    discussions.open_discussion(hub, bob, MODEL, rid, "Bug", "It breaks")
    discussions.add_comment(hub, carol, MODEL, rid, 1, "Same here")
    discussions.add_comment(hub, alice, MODEL, rid, 1, "Fixed, thanks @bob")
    discussions.set_status(hub, _fresh(hub, alice), MODEL, rid, 1, "closed")
    assert _kinds(hub, bob) == [("status", "alice"), ("mention", "alice"), ("comment", "carol")]
    assert _kinds(hub, carol) == [("status", "alice"), ("comment", "alice")]
    assert _kinds(hub, alice) == [("comment", "carol"), ("discussion", "bob")]


def test_organization_repository_tells_its_writers_not_its_readers(hub: Hub) -> None:
    alice, bob, carol, erin = (_user(hub, n) for n in ("alice", "bob", "carol", "erin"))
    orgs.create_org(hub, "acme", owner="alice")
    orgs.set_member_role(hub, None, "acme", "bob", "write")
    orgs.set_member_role(hub, None, "acme", "carol", "read")
    repos.create_repo(hub, _fresh(hub, alice), MODEL, RepoId.of("acme", "m"))
    discussions.open_discussion(hub, erin, MODEL, RepoId.of("acme", "m"), "Hello", "Hi")
    assert _kinds(hub, alice) == [("discussion", "erin")]
    assert _kinds(hub, bob) == [("discussion", "erin")]
    assert _kinds(hub, carol) == []


def test_private_repository_is_never_revealed(hub: Hub) -> None:
    alice, bob, carol = (_user(hub, n) for n in ("alice", "bob", "carol"))
    rid = RepoId.of("alice", "secret")
    repos.create_repo(hub, alice, MODEL, rid, visibility="private")
    # carol cannot read it: a mention of her is dropped when written.
    discussions.open_discussion(hub, alice, MODEL, rid, "Plans", "cc @carol @bob")
    assert _kinds(hub, carol) == []
    assert _kinds(hub, bob) == []
    # bob could read it while a collaborator; once removed, what he was told is gone from list and count.
    from csghub.services.repositories import collaborators

    collaborators.set_collaborator(hub, alice, MODEL, rid, "bob", "read")
    discussions.add_comment(hub, alice, MODEL, rid, 1, "@bob see this")
    assert _kinds(hub, bob) == [("mention", "alice")]
    assert notifications.count_unread(hub, _fresh(hub, bob)) == 1
    hidden_id = notifications.list_notifications(hub, _fresh(hub, bob)).items[0].id
    collaborators.remove_collaborator(hub, alice, MODEL, rid, "bob")
    assert _kinds(hub, bob) == []
    assert notifications.count_unread(hub, _fresh(hub, bob)) == 0
    with pytest.raises(NotFound):
        notifications.mark_read(hub, _fresh(hub, bob), hidden_id)


def test_access_requests_reach_admins_and_invitations_the_invitee(hub: Hub) -> None:
    alice, bob, carol = (_user(hub, n) for n in ("alice", "bob", "carol"))
    orgs.create_org(hub, "acme", owner="alice")
    orgs.set_member_role(hub, None, "acme", "carol", "write")
    rid = RepoId.of("acme", "gated")
    repos.create_repo(hub, _fresh(hub, alice), MODEL, rid)
    repos.update_settings(hub, _fresh(hub, alice), MODEL, rid, gated="manual")
    gating.request_access(hub, bob, MODEL, rid)
    gating.request_access(hub, bob, MODEL, rid)  # asking again tells nobody again
    assert _kinds(hub, alice) == [("access_request", "bob")]
    assert _kinds(hub, _fresh(hub, carol)) == []  # writers do not decide access
    orgs.invite(hub, _fresh(hub, alice), "acme", "bob", "read")
    page = notifications.list_notifications(hub, _fresh(hub, bob))
    assert [(n.kind, n.actor, n.org) for n in page.items] == [("invitation", "alice", "acme")]


def test_mark_read_one_and_all_and_filter_unread(hub: Hub) -> None:
    alice, bob = _user(hub, "alice"), _user(hub, "bob")
    rid = RepoId.of("alice", "m")
    repos.create_repo(hub, alice, MODEL, rid)
    for n in range(3):
        discussions.open_discussion(hub, bob, MODEL, rid, f"Q{n}", "?")
    first = notifications.list_notifications(hub, alice).items[-1]
    notifications.mark_read(hub, alice, first.id)
    page = notifications.list_notifications(hub, alice, unread_only=True)
    assert (page.total, page.unread, [n.title for n in page.items]) == (2, 2, ["Q2", "Q1"])
    with pytest.raises(NotFound):
        notifications.mark_read(hub, bob, first.id)  # someone else's
    assert notifications.mark_all_read(hub, alice) == 2
    assert notifications.count_unread(hub, alice) == 0
    assert notifications.count_unread(hub, ANONYMOUS) == 0
    with pytest.raises(Unauthenticated):
        notifications.list_notifications(hub, ANONYMOUS)


def test_each_person_keeps_a_bounded_number(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "MAX_KEPT", 3)
    alice, bob = _user(hub, "alice"), _user(hub, "bob")
    rid = RepoId.of("alice", "m")
    repos.create_repo(hub, alice, MODEL, rid)
    discussions.open_discussion(hub, bob, MODEL, rid, "Q", "?")
    for n in range(5):
        discussions.add_comment(hub, bob, MODEL, rid, 1, f"ping {n}")
    page = notifications.list_notifications(hub, alice)
    assert page.total == 3
    assert [n.excerpt for n in page.items] == ["ping 4", "ping 3", "ping 2"]


def test_status_changes_render_their_words(hub: Hub) -> None:
    """The page names what happened: closed, reopened, in either language."""
    from starlette.requests import Request

    from csghub.web.render import _env

    alice, bob = _user(hub, "alice"), _user(hub, "bob")
    rid = RepoId.of("alice", "m")
    repos.create_repo(hub, alice, MODEL, rid)
    discussions.open_discussion(hub, alice, MODEL, rid, "Q", "?")
    discussions.add_comment(hub, bob, MODEL, rid, 1, "hi")  # bob takes part
    discussions.set_status(hub, alice, MODEL, rid, 1, "closed")
    discussions.set_status(hub, alice, MODEL, rid, 1, "open")
    found = notifications.list_notifications(hub, _fresh(hub, bob))
    request = Request({"type": "http", "method": "GET", "path": "/notifications", "headers": [], "query_string": b""})
    html = _env.get_template("notifications.html").render(
        request=request,
        found=found,
        unread_only=False,
        target_of=lambda n: "/x",
        t=lambda s: s,
        user=_fresh(hub, bob),
        csrf="",
        ago=lambda m: "now",
        unread_notifications=lambda: found.unread,
        lang="en",
    )
    assert "reopened a discussion in" in html and "closed a discussion in" in html
