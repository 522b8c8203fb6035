"""Who may do what: the one authorize() every route, transport, hook and job calls.

Reading a private repository without access is answered as if it did not exist (RepoNotFound), so
private repositories stay invisible; writing without access is PermissionDenied, or Unauthenticated for
an anonymous actor so that git and other clients are challenged for credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from csghub.core.errors import PermissionDenied, RepoNotFound, Unauthenticated


class Action(StrEnum):
    READ = "read"  # see the repo, download, clone
    WRITE = "write"  # push, commit, upload, branches and tags
    ADMIN = "admin"  # delete, rename, visibility
    CREATE = "create"  # create a repo in a namespace


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None = None
    name: str = ""
    is_admin: bool = False
    # Scope of the credential used: a read token can never write, whatever the user's rights.
    scope: str = "write"
    # Organization name (case-folded) -> role ("admin" | "write" | "read").
    org_roles: dict[str, str] = field(default_factory=dict)

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None


ANONYMOUS = Actor()


@dataclass(frozen=True, slots=True)
class RepoResource:
    namespace: str
    private: bool
    label: str  # "model user/name", used in messages


@dataclass(frozen=True, slots=True)
class NamespaceResource:
    name: str


_ROLE_RANK = {"read": 1, "write": 2, "admin": 3}
_ACTION_NEEDS = {Action.READ: 1, Action.WRITE: 2, Action.CREATE: 2, Action.ADMIN: 3}


def _rank_in(actor: Actor, namespace: str) -> int:
    if actor.is_anonymous:
        return 0
    if actor.is_admin or actor.name.lower() == namespace.lower():
        return 3
    return _ROLE_RANK.get(actor.org_roles.get(namespace.lower(), ""), 0)


def can(actor: Actor, action: Action, resource: RepoResource | NamespaceResource) -> bool:
    needs = _ACTION_NEEDS[action]
    if needs >= 2 and actor.scope != "write":
        return False
    if isinstance(resource, RepoResource) and action is Action.READ and not resource.private:
        return True
    return _rank_in(actor, resource.namespace if isinstance(resource, RepoResource) else resource.name) >= needs


def repo_not_found(actor: Actor, label: str) -> RepoNotFound | Unauthenticated:
    """Missing and unreadable look the same; anonymous callers get a 401 so clients send credentials."""
    message = f"Repository not found: {label}. If the repo is private, make sure you are authenticated."
    if actor.is_anonymous:
        return Unauthenticated(message, code="RepoNotFound")
    return RepoNotFound(message)


def authorize(actor: Actor, action: Action, resource: RepoResource | NamespaceResource) -> None:
    if can(actor, action, resource):
        return
    if isinstance(resource, RepoResource):
        if not can(actor, Action.READ, resource):
            raise repo_not_found(actor, resource.label)
        if actor.is_anonymous:
            raise Unauthenticated(f"Authentication required to {action.value} {resource.label}")
        if actor.scope != "write" and _ACTION_NEEDS[action] >= 2:
            raise PermissionDenied(
                f"Your token is read-only; a write token is needed to {action.value} {resource.label}"
            )
        raise PermissionDenied(f"You are not allowed to {action.value} {resource.label}")
    if actor.is_anonymous:
        raise Unauthenticated(f"Authentication required to create repositories in '{resource.name}'")
    if actor.scope != "write":
        raise PermissionDenied("Your token is read-only; a write token is needed to create repositories")
    raise PermissionDenied(f"You cannot create repositories in namespace '{resource.name}'")
