"""authorize() as a pure function: the account's rights narrowed by the credential's."""

from __future__ import annotations

import pytest

from csghub.core.errors import GatedRepo, InvalidArgument, PermissionDenied, RepoNotFound, Unauthenticated
from csghub.services.permissions import (
    ANONYMOUS,
    SITE,
    Action,
    Actor,
    Grant,
    NamespaceResource,
    RepoResource,
    account_allows,
    authorize,
    can,
    check_role,
    require_account,
)

ALICE = Actor(user_id=1, name="alice")


def repo(visibility: str = "public", gated: str = "", namespace: str = "org", repo_id: int = 7) -> RepoResource:
    return RepoResource(repo_id, namespace, visibility, f"model {namespace}/r", gated)


def test_internal_repos_are_for_signed_in_users_only() -> None:
    assert can(ALICE, Action.DOWNLOAD, repo("internal"))
    assert not can(ANONYMOUS, Action.READ, repo("internal"))
    with pytest.raises(Unauthenticated) as caught:
        authorize(ANONYMOUS, Action.READ, repo("internal"))
    assert caught.value.code == "RepoNotFound"


def test_collaborator_role_counts_for_that_repository_only() -> None:
    helper = Actor(user_id=2, name="helper", repo_roles={7: "write"})
    assert can(helper, Action.WRITE, repo("private"))
    assert not can(helper, Action.ADMIN, repo("private"))
    with pytest.raises(RepoNotFound):
        authorize(helper, Action.READ, repo("private", repo_id=8))


def test_gated_download_needs_approval_unless_the_actor_has_a_role() -> None:
    with pytest.raises(GatedRepo):
        authorize(ALICE, Action.DOWNLOAD, repo(gated="manual"))
    with pytest.raises(Unauthenticated) as caught:
        authorize(ANONYMOUS, Action.DOWNLOAD, repo(gated="manual"))
    assert caught.value.code == "GatedRepo"
    assert can(Actor(user_id=1, name="alice", gate_access=frozenset({7})), Action.DOWNLOAD, repo(gated="auto"))
    assert can(Actor(user_id=3, name="m", org_roles={"org": "read"}), Action.DOWNLOAD, repo(gated="manual"))
    assert can(ALICE, Action.READ, repo(gated="manual"))


def test_fine_grained_namespace_grant_allows_creating_there_and_nowhere_else() -> None:
    token = Actor(
        user_id=1,
        name="alice",
        scope="fine",
        org_roles={"org": "write"},
        grants=(Grant("namespace", "org", frozenset({"read", "write"})),),
    )
    assert can(token, Action.CREATE, NamespaceResource("org"))
    assert can(token, Action.WRITE, repo("private"))
    assert not can(token, Action.CREATE, NamespaceResource("alice"))
    assert not can(token, Action.ADMIN, repo("private"))
    with pytest.raises(PermissionDenied):
        authorize(token, Action.CREATE, NamespaceResource("alice"))


def test_a_grant_never_exceeds_the_account() -> None:
    token = Actor(user_id=1, name="alice", scope="fine", grants=(Grant("repo", 7, frozenset({"write"})),))
    with pytest.raises(RepoNotFound):
        authorize(token, Action.WRITE, repo("private"))


def test_site_actions_need_a_site_admin_with_a_full_credential() -> None:
    assert can(Actor(user_id=9, name="root", is_admin=True), Action.MANAGE, SITE)
    assert not can(Actor(user_id=9, name="root", is_admin=True, scope="read"), Action.MANAGE, SITE)
    with pytest.raises(PermissionDenied):
        authorize(ALICE, Action.MANAGE, SITE)
    with pytest.raises(Unauthenticated):
        authorize(ANONYMOUS, Action.MANAGE, SITE)


def test_roles_are_checked() -> None:
    assert check_role("write") == "write"
    with pytest.raises(InvalidArgument):
        check_role("owner")


def test_proposing_needs_an_account_that_reads_and_a_credential_that_writes() -> None:
    # Hugging Face's rule for pull requests: any signed-in reader, with a write credential.
    assert can(ALICE, Action.PROPOSE, repo("public"))
    assert can(ALICE, Action.PROPOSE, repo("internal"))
    assert can(ALICE, Action.PROPOSE, repo(gated="manual"))  # proposing reads no file
    assert not can(ALICE, Action.WRITE, repo("public"))
    with pytest.raises(RepoNotFound):
        authorize(ALICE, Action.PROPOSE, repo("private"))
    assert can(Actor(user_id=1, name="alice", repo_roles={7: "read"}), Action.PROPOSE, repo("private"))
    with pytest.raises(Unauthenticated):
        authorize(ANONYMOUS, Action.PROPOSE, repo("public"))
    with pytest.raises(PermissionDenied, match="read-only"):
        authorize(Actor(user_id=1, name="alice", scope="read"), Action.PROPOSE, repo("public"))
    with pytest.raises(PermissionDenied, match="mirror"):
        authorize(ALICE, Action.PROPOSE, RepoResource(7, "org", "public", "model org/r", mirror_of="hf:a/b"))


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        (ANONYMOUS, Unauthenticated),
        (Actor(user_id=1, name="alice", scope="read"), PermissionDenied),
        (
            Actor(user_id=1, name="alice", scope="fine", grants=(Grant("namespace", "alice", frozenset({"manage"})),)),
            PermissionDenied,
        ),
        (ALICE, None),
    ],
)
def test_account_allows_what_require_account_lets_through(actor: Actor, refusal: type[Exception] | None) -> None:
    assert account_allows(actor) is (refusal is None)
    if refusal is None:
        require_account(actor, "read notifications")
    else:
        with pytest.raises(refusal):
            require_account(actor, "read notifications")
