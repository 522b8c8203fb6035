"""The pusher reaches the pre-receive hook as JSON: every field authorize() reads survives the trip."""

from __future__ import annotations

from csghub.services.permissions import Action, Actor, Grant, RepoResource, can
from csghub.services.pushes import actor_from_json, actor_to_json


def test_hook_actor_round_trip_keeps_roles_gates_and_grants() -> None:
    actor = Actor(
        user_id=7,
        name="ada",
        scope="fine",
        org_roles={"lab": "read"},
        repo_roles={12: "write"},
        gate_access=frozenset({3, 5}),
        grants=(Grant("repo", 12, frozenset({"read", "write"})), Grant("namespace", "lab", frozenset({"read"}))),
        address="10.0.0.1",
    )
    back = actor_from_json(actor_to_json(actor))
    assert back == Actor(**{**{f: getattr(actor, f) for f in Actor.__slots__}, "address": ""})
    lab_private = RepoResource(40, "lab", "private", "model lab/x")
    elsewhere = RepoResource(41, "other", "private", "model other/y")
    assert can(back, Action.DOWNLOAD, lab_private) and not can(back, Action.DOWNLOAD, elsewhere)


def test_hook_actor_anonymous_and_admin() -> None:
    assert actor_from_json(actor_to_json(Actor())).is_anonymous
    admin = actor_from_json(actor_to_json(Actor(user_id=1, name="root", is_admin=True)))
    assert admin.is_admin and admin.scope == "write"
