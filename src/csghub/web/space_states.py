"""The one place the portal reads a space's running state (services/spaces): its status on the space's
pages, the states of a listing page's spaces in one query, and where its logs stream from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, can
from csghub.services.repositories.repos import RepoView


@dataclass(frozen=True, slots=True)
class SpaceStatus:
    state: str  # CSGHub's state name: running, building, sleeping, paused, build-failed, ...
    reason: str = ""
    error_lines: tuple[str, ...] = ()  # pip's error (build-failed) or the app's last lines (runtime-error)


def find_status(hub: Hub, actor: Actor, repo: RepoView) -> SpaceStatus | None:
    """The space's state, None while the hub knows none (no app, or nothing recorded yet)."""
    return None


def states_of(hub: Hub, actor: Actor, spaces: Iterable[RepoView]) -> dict[int, str]:
    return {}


def may_read_logs(actor: Actor, repo: RepoView) -> bool:
    return can(actor, Action.ADMIN, repo.resource)


def logs_url(repo: RepoView) -> str:
    return f"/api/v1/spaces/{repo.full_name}/logs"
