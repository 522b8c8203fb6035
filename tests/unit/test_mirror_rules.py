"""Pure rules of mirroring: a mirror is read-only to everyone (its administrators included), the message
names its source, reading stays as the repository's visibility says; the retries' backoff."""

from __future__ import annotations

import pytest

from csghub.core.errors import PermissionDenied, RepoNotFound
from csghub.services.mirrors.tasks import BACKOFF_CAP_S, backoff_seconds
from csghub.services.permissions import Action, Actor, RepoResource, authorize, can

OWNER = Actor(user_id=1, name="org")
ADMIN = Actor(user_id=2, name="root", is_admin=True)
STRANGER = Actor(user_id=3, name="someone")


def mirrored(visibility: str = "public") -> RepoResource:
    return RepoResource(7, "org", visibility, "model org/tiny", mirror_of="hf:up/tiny")


def test_a_mirror_refuses_writes_by_everyone_naming_its_source() -> None:
    for actor in (OWNER, ADMIN):
        assert not can(actor, Action.WRITE, mirrored())
        with pytest.raises(PermissionDenied, match="read-only mirror of hf:up/tiny") as refused:
            authorize(actor, Action.WRITE, mirrored())
        assert refused.value.code == "MirrorReadOnly"


def test_a_mirror_keeps_its_other_rules() -> None:
    assert can(OWNER, Action.ADMIN, mirrored()) and can(ADMIN, Action.ADMIN, mirrored())  # settings, sync, delete
    assert can(STRANGER, Action.DOWNLOAD, mirrored())
    with pytest.raises(RepoNotFound):  # a private mirror is as hidden as any private repository
        authorize(STRANGER, Action.WRITE, mirrored("private"))
    unmarked = RepoResource(7, "org", "public", "model org/tiny")
    assert can(OWNER, Action.WRITE, unmarked)


def test_backoff_doubles_from_its_base_and_is_capped() -> None:
    assert [backoff_seconds(n, 30) for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff_seconds(20, 30) == BACKOFF_CAP_S
    assert backoff_seconds(0, 30) == 30
