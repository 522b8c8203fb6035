"""Branches and tags of a repository."""

from __future__ import annotations

from dataclasses import dataclass

from csghub.core.errors import Conflict, InvalidArgument, RevisionNotFound
from csghub.core.names import check_user_ref, validate_ref_name, validate_revision
from csghub.git.repository import ZERO_SHA
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize
from csghub.services.repositories.repos import RepoView
from csghub.services.repositories.writes import RefChange, after_ref_update, writing


@dataclass(frozen=True, slots=True)
class Ref:
    name: str
    ref: str
    target: str


@dataclass(frozen=True, slots=True)
class Refs:
    branches: list[Ref]
    tags: list[Ref]
    converts: list[Ref]  # the hub's own refs/convert/* (a dataset's Parquet conversion): read-only
    pulls: list[Ref]  # pull requests' refs/pr/N, named by their full ref (what a revision= takes)


def list_refs(hub: Hub, actor: Actor, repo: RepoView) -> Refs:
    authorize(actor, Action.READ, repo.resource)
    git = hub.git(repo.id)
    return Refs(
        branches=[Ref(n, f"refs/heads/{n}", t) for n, t in git.branches()],
        tags=[Ref(n, f"refs/tags/{n}", t) for n, t in git.tags()],
        converts=[Ref(n, f"refs/convert/{n}", t) for n, t in git.converts()],
        pulls=[Ref(f"refs/pr/{n}", f"refs/pr/{n}", t) for n, t in sorted(git.pull_requests(), key=_by_number)],
    )


def _by_number(item: tuple[str, str]) -> tuple[int, str]:
    return (int(item[0]), "") if item[0].isdigit() else (0, item[0])


def _check_ref_name(name: str, what: str) -> None:
    """A branch or tag name as a user gives it: never the hub's refs, never a full ref name (which
    would make `refs/heads/refs/...`, shadowed by the full ref it spells)."""
    check_user_ref(name)
    validate_ref_name(name, what=what)
    if name.startswith("refs/"):
        raise InvalidArgument(f"Invalid {what} name '{name}': give the name without 'refs/'")


def _create_ref(
    hub: Hub, actor: Actor, repo: RepoView, kind: str, name: str, start: str | None, exist_ok: bool, via: str
) -> str:
    """Point refs/{heads|tags}/name at `start` (default branch if None); returns the target commit."""
    authorize(actor, Action.WRITE, repo.resource)
    what = "branch" if kind == "heads" else "tag"
    _check_ref_name(name, what)
    git = hub.git(repo.id)
    target = git.resolve(validate_revision(start) if start else repo.default_branch)
    with writing(hub, repo.id):
        existing = git.ref_target(f"refs/{kind}/{name}")
        if existing is not None:
            if exist_ok:
                return existing
            raise Conflict(f"{what.capitalize()} '{name}' already exists")
        git.update_ref(f"refs/{kind}/{name}", target, None)
        change = RefChange(f"refs/{kind}/{name}", ZERO_SHA, target)
        after_ref_update(hub, repo.id, actor, [change], action=f"repo.{what}_create", via=via, detail={"name": name})
    return target


def _delete_ref(hub: Hub, actor: Actor, repo: RepoView, kind: str, name: str, via: str) -> None:
    authorize(actor, Action.WRITE, repo.resource)
    what = "branch" if kind == "heads" else "tag"
    _check_ref_name(name, what)
    if kind == "heads" and name == repo.default_branch:
        raise InvalidArgument(f"Cannot delete the default branch '{name}'")
    git = hub.git(repo.id)
    with writing(hub, repo.id):
        old = git.ref_target(f"refs/{kind}/{name}")
        if old is None:
            raise RevisionNotFound(f"{what.capitalize()} '{name}' does not exist")
        git.delete_ref(f"refs/{kind}/{name}")
        change = RefChange(f"refs/{kind}/{name}", old, ZERO_SHA)
        after_ref_update(hub, repo.id, actor, [change], action=f"repo.{what}_delete", via=via, detail={"name": name})


def create_branch(
    hub: Hub,
    actor: Actor,
    repo: RepoView,
    branch: str,
    *,
    via: str,
    start: str | None = None,
    exist_ok: bool = False,
) -> str:
    return _create_ref(hub, actor, repo, "heads", branch, start, exist_ok, via)


def delete_branch(hub: Hub, actor: Actor, repo: RepoView, branch: str, *, via: str) -> None:
    _delete_ref(hub, actor, repo, "heads", branch, via)


def create_tag(
    hub: Hub,
    actor: Actor,
    repo: RepoView,
    tag: str,
    *,
    via: str,
    revision: str | None = None,
    exist_ok: bool = False,
) -> str:
    return _create_ref(hub, actor, repo, "tags", tag, revision, exist_ok, via)


def delete_tag(hub: Hub, actor: Actor, repo: RepoView, tag: str, *, via: str) -> None:
    _delete_ref(hub, actor, repo, "tags", tag, via)
