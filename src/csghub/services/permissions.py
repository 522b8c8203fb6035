"""Who may do what: the one authorize() every route, transport, hook and job calls.

Two things must both allow an action: the account (owner, organization role, collaborator role,
site admin, gate approval) and the credential it came with (a read token never writes; a fine-grained
token reaches only the repositories and namespaces it names). A repository the actor may not read is
answered as if it did not exist (RepoNotFound, or 401 for anonymous callers so clients send
credentials); a visible repository the actor may not change is PermissionDenied; a gated one whose
files the actor may not yet download is GatedRepo.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NoReturn

from csghub.core.errors import (
    GatedRepo,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RepoNotFound,
    Unauthenticated,
)


class Action(StrEnum):
    READ = "read"  # see the repo: info, file list, commits
    DOWNLOAD = "download"  # file contents: resolve, clone, LFS download (needs gate approval)
    WRITE = "write"  # push, commit, upload, branches and tags
    ADMIN = "admin"  # delete, rename, visibility, gating, collaborators
    CREATE = "create"  # create a repo in a namespace
    MANAGE = "manage"  # a namespace's members, invitations and audit log; an endpoint's life and logs
    CALL = "call"  # send requests to an endpoint through the gateway
    # Open a pull request on a repository one may read, and commit to one's own (Hugging Face's rule):
    # a signed-in reader with a credential that may write.
    PROPOSE = "propose"


VISIBILITIES = ("public", "internal", "private")
ROLES = ("read", "write", "admin")
_ROLE_RANK = {"read": 1, "write": 2, "admin": 3}
_ACTION_NEEDS = {
    Action.READ: 1,
    Action.DOWNLOAD: 1,
    Action.WRITE: 2,
    Action.CREATE: 2,
    Action.ADMIN: 3,
    Action.MANAGE: 3,
    Action.CALL: 1,
    Action.PROPOSE: 2,  # of the credential: a read token proposes nothing (the account needs only to read)
}
# What a fine-grained grant must list for each action.
_GRANT_FOR = {
    Action.READ: "read",
    Action.DOWNLOAD: "read",
    Action.WRITE: "write",
    Action.CREATE: "write",
    Action.ADMIN: "manage",
    Action.MANAGE: "manage",
    Action.CALL: "read",
    Action.PROPOSE: "write",
}
GRANT_ACTIONS = ("read", "write", "manage")


@dataclass(frozen=True, slots=True)
class Grant:
    """One entry of a fine-grained token: a repository (by id) or a namespace (case-folded name)."""

    kind: str  # "repo" | "namespace"
    target: int | str
    actions: frozenset[str]


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None = None
    name: str = ""
    is_admin: bool = False
    # The credential used: "read" and "write" tokens (and passwords, sessions: "write"), or "fine".
    scope: str = "write"
    # Organization name (case-folded) -> role ("admin" | "write" | "read").
    org_roles: dict[str, str] = field(default_factory=dict)
    # Repository id -> role as a collaborator.
    repo_roles: Mapping[int, str] = field(default_factory=dict)
    # Gated repositories whose access requests were accepted.
    gate_access: frozenset[int] = frozenset()
    # Only with scope "fine": what the token reaches.
    grants: tuple[Grant, ...] = ()
    # Where the request came from, for the audit log and abuse limits.
    address: str = ""

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None


ANONYMOUS = Actor()


@dataclass(frozen=True, slots=True)
class RepoResource:
    repo_id: int
    namespace: str
    visibility: str
    label: str  # "model user/name", used in messages
    gated: str = ""
    # "source:ns/name" when the repository mirrors another hub (services/mirrors): read-only to everyone,
    # its content changes only through its sync.
    mirror_of: str = ""

    @property
    def private(self) -> bool:
        return self.visibility != "public"


@dataclass(frozen=True, slots=True)
class NamespaceResource:
    name: str


@dataclass(frozen=True, slots=True)
class SiteResource:
    """The hub itself: users, all organizations, the whole audit log. Only site administrators."""

    name: str = "the site"


@dataclass(frozen=True, slots=True)
class EndpointResource:
    """An inference endpoint (services/compute): public ones anyone may call; private ones only the
    owner namespace's members; managing it (start, stop, update, delete, logs) needs the namespace's
    admin rank."""

    owner: str
    visibility: str
    label: str  # "owner/name", used in messages

    @property
    def name(self) -> str:
        return self.label


@dataclass(frozen=True, slots=True)
class FinetuneResource:
    """A namespace's fine-tuning records (jobs, experiments, parameter groups, instances): invisible outside
    the namespace; its members read them, its writers create, run and stop them."""

    owner: str
    label: str  # "fine-tune job #12", used in messages

    @property
    def name(self) -> str:
        return self.owner


SITE = SiteResource()
Resource = RepoResource | NamespaceResource | SiteResource | EndpointResource | FinetuneResource


def _namespace_rank(actor: Actor, namespace: str) -> int:
    if actor.is_anonymous:
        return 0
    if actor.is_admin or actor.name.lower() == namespace.lower():
        return 3
    return _ROLE_RANK.get(actor.org_roles.get(namespace.lower(), ""), 0)


def _account_rank(actor: Actor, resource: Resource) -> int:
    if isinstance(resource, SiteResource):
        return 3 if actor.is_admin else 0
    if isinstance(resource, NamespaceResource):
        return _namespace_rank(actor, resource.name)
    if isinstance(resource, EndpointResource | FinetuneResource):
        return _namespace_rank(actor, resource.owner)
    return max(
        _namespace_rank(actor, resource.namespace), _ROLE_RANK.get(actor.repo_roles.get(resource.repo_id, ""), 0)
    )


def _account_allows(actor: Actor, action: Action, resource: Resource) -> bool:
    rank = _account_rank(actor, resource)
    if isinstance(resource, RepoResource) and action in (Action.READ, Action.DOWNLOAD):
        visible = (
            rank >= 1
            or resource.visibility == "public"
            or (resource.visibility == "internal" and not actor.is_anonymous)
        )
        if action is Action.READ or not visible:
            return visible
        return rank >= 1 or not resource.gated or resource.repo_id in actor.gate_access
    if isinstance(resource, EndpointResource) and action in (Action.READ, Action.CALL):
        return rank >= 1 or resource.visibility == "public"
    if action is Action.PROPOSE:
        return not actor.is_anonymous and _account_allows(actor, Action.READ, resource)
    return rank >= _ACTION_NEEDS[action]


def _credential_allows(actor: Actor, action: Action, resource: Resource) -> bool:
    if actor.scope == "write":
        return True
    if actor.scope == "read":
        return _ACTION_NEEDS[action] < 2
    wanted = _GRANT_FOR[action]
    for grant in actor.grants:
        if wanted not in grant.actions:
            continue
        if isinstance(resource, RepoResource):
            if (grant.kind == "repo" and grant.target == resource.repo_id) or (
                grant.kind == "namespace" and grant.target == resource.namespace.lower()
            ):
                return True
        elif (
            isinstance(resource, NamespaceResource)
            and grant.kind == "namespace"
            and grant.target == resource.name.lower()
        ) or (
            isinstance(resource, EndpointResource | FinetuneResource)
            and grant.kind == "namespace"
            and grant.target == resource.owner.lower()
        ):
            return True
    return False


def _public_read(action: Action, resource: Resource) -> bool:
    """What anyone may do whatever credential they hold: read a public repository, see and call a
    public endpoint."""
    if isinstance(resource, EndpointResource):
        return action in (Action.READ, Action.CALL) and resource.visibility == "public"
    return isinstance(resource, RepoResource) and action is Action.READ and resource.visibility == "public"


def _mirror_refuses(action: Action, resource: Resource) -> bool:
    """A mirror's content is the upstream's: no one writes to it by any door (push, commit, upload, refs)."""
    writes = action in (Action.WRITE, Action.PROPOSE)
    return writes and isinstance(resource, RepoResource) and bool(resource.mirror_of)


def can(actor: Actor, action: Action, resource: Resource) -> bool:
    if _mirror_refuses(action, resource):
        return False
    if not _account_allows(actor, action, resource):
        return False
    if _credential_allows(actor, action, resource):
        return True
    # A public repository's files are public too, unless it is gated: then the credential must reach it.
    if action is Action.DOWNLOAD and isinstance(resource, RepoResource):
        return resource.visibility == "public" and not resource.gated
    return _public_read(action, resource)


def repo_not_found(actor: Actor, label: str) -> RepoNotFound | Unauthenticated:
    """Missing and unreadable look the same; anonymous callers get a 401 so clients send credentials."""
    message = f"Repository not found: {label}. If the repo is private, make sure you are authenticated."
    if actor.is_anonymous:
        return Unauthenticated(message, code="RepoNotFound")
    return RepoNotFound(message)


def authorize(actor: Actor, action: Action, resource: Resource) -> None:
    if can(actor, action, resource):
        return
    if isinstance(resource, RepoResource):
        _deny_repo(actor, action, resource)
    if isinstance(resource, EndpointResource) and not can(actor, Action.READ, resource):
        # Private endpoints are invisible to everyone else, anonymous callers included.
        raise NotFound(f"Endpoint not found: {resource.label}", code="EndpointNotFound")
    if isinstance(resource, FinetuneResource) and not can(actor, Action.READ, resource):
        raise NotFound(f"Not found: {resource.label}", code="FinetuneNotFound")
    if actor.is_anonymous:
        raise Unauthenticated(f"Authentication required to {action.value} in '{resource.name}'")
    if isinstance(resource, SiteResource) and not actor.is_admin:
        raise PermissionDenied("Only site administrators may do this")
    if not _credential_allows(actor, action, resource):
        raise PermissionDenied(f"Your token does not allow you to {action.value} in '{resource.name}'")
    raise PermissionDenied(f"You are not allowed to {action.value} in namespace '{resource.name}'")


def _deny_repo(actor: Actor, action: Action, resource: RepoResource) -> NoReturn:
    if not can(actor, Action.READ, resource):
        raise repo_not_found(actor, resource.label)
    if _mirror_refuses(action, resource):
        raise PermissionDenied(
            f"{resource.label} is a read-only mirror of {resource.mirror_of}: its content changes only by "
            "syncing from there (delete the mirror to make it writable)",
            code="MirrorReadOnly",
        )
    if action is Action.DOWNLOAD and resource.gated:
        message = (
            f"Access to {resource.label} is restricted: you must have access to it and be authenticated to "
            "access it. Please request access on its page."
        )
        if actor.is_anonymous:
            raise Unauthenticated(message, code="GatedRepo")
        raise GatedRepo(message)
    if actor.is_anonymous:
        raise Unauthenticated(f"Authentication required to {action.value} {resource.label}")
    if not _credential_allows(actor, action, resource):
        if actor.scope == "read":
            raise PermissionDenied(
                f"Your token is read-only; a write token is needed to {action.value} {resource.label}"
            )
        raise PermissionDenied(f"Your token does not allow you to {action.value} {resource.label}")
    raise PermissionDenied(f"You are not allowed to {action.value} {resource.label}")


def account_allows(actor: Actor) -> bool:
    """Whether require_account lets `actor` through: for what only shows itself quietly when allowed
    (the header's unread count), where require_account would refuse the whole page."""
    return not actor.is_anonymous and actor.scope == "write"


def require_account(actor: Actor, what: str) -> None:
    """Things any signed-in user may do with a full credential (create an organization, ask for access)."""
    if actor.is_anonymous:
        raise Unauthenticated(f"Sign in to {what}")
    if not account_allows(actor):
        raise PermissionDenied(f"Your token does not allow you to {what}; use a write token")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidArgument(f"Invalid role '{role}': expected admin, write or read")
    return role
