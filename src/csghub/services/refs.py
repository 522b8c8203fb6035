"""Branches and tags of a repository."""

from __future__ import annotations

from dataclasses import dataclass

from csghub.core.errors import Conflict, InvalidArgument, RevisionNotFound
from csghub.core.names import validate_ref_name, validate_revision
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize
from csghub.services.repos import LOCKS, RepoView


@dataclass(frozen=True, slots=True)
class Ref:
    name: str
    ref: str
    target: str


@dataclass(frozen=True, slots=True)
class Refs:
    branches: list[Ref]
    tags: list[Ref]


def list_refs(hub: Hub, actor: Actor, repo: RepoView) -> Refs:
    authorize(actor, Action.READ, repo.resource)
    git = hub.git(repo.id)
    return Refs(
        branches=[Ref(n, f"refs/heads/{n}", t) for n, t in git.branches()],
        tags=[Ref(n, f"refs/tags/{n}", t) for n, t in git.tags()],
    )


def create_branch(
    hub: Hub, actor: Actor, repo: RepoView, branch: str, *, start: str | None = None, exist_ok: bool = False
) -> str:
    authorize(actor, Action.WRITE, repo.resource)
    validate_ref_name(branch, what="branch")
    git = hub.git(repo.id)
    target = git.resolve(validate_revision(start) if start else repo.default_branch)
    with LOCKS.hold(repo.id):
        existing = git.ref_target(f"refs/heads/{branch}")
        if existing is not None:
            if exist_ok:
                return existing
            raise Conflict(f"Branch '{branch}' already exists")
        git.update_ref(f"refs/heads/{branch}", target, None)
    return target


def delete_branch(hub: Hub, actor: Actor, repo: RepoView, branch: str) -> None:
    authorize(actor, Action.WRITE, repo.resource)
    validate_ref_name(branch, what="branch")
    if branch == repo.default_branch:
        raise InvalidArgument(f"Cannot delete the default branch '{branch}'")
    git = hub.git(repo.id)
    with LOCKS.hold(repo.id):
        if git.ref_target(f"refs/heads/{branch}") is None:
            raise RevisionNotFound(f"Branch '{branch}' does not exist")
        git.delete_ref(f"refs/heads/{branch}")


def create_tag(
    hub: Hub, actor: Actor, repo: RepoView, tag: str, *, revision: str | None = None, exist_ok: bool = False
) -> str:
    authorize(actor, Action.WRITE, repo.resource)
    validate_ref_name(tag, what="tag")
    git = hub.git(repo.id)
    target = git.resolve(validate_revision(revision) if revision else repo.default_branch)
    with LOCKS.hold(repo.id):
        existing = git.ref_target(f"refs/tags/{tag}")
        if existing is not None:
            if exist_ok:
                return existing
            raise Conflict(f"Tag '{tag}' already exists")
        git.update_ref(f"refs/tags/{tag}", target, None)
    return target


def delete_tag(hub: Hub, actor: Actor, repo: RepoView, tag: str) -> None:
    authorize(actor, Action.WRITE, repo.resource)
    validate_ref_name(tag, what="tag")
    git = hub.git(repo.id)
    with LOCKS.hold(repo.id):
        if git.ref_target(f"refs/tags/{tag}") is None:
            raise RevisionNotFound(f"Tag '{tag}' does not exist")
        git.delete_ref(f"refs/tags/{tag}")
