"""The one place the portal reads a space's running state (services/spaces): its status on the space's
pages, the states of a listing page's spaces at once, and where its logs stream from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, can
from csghub.services.repositories.repos import RepoView
from csghub.services.spaces import records

# States whose reason is a block of output (pip's error, the app's last lines) rather than a phrase.
FAILURES = (records.BUILD_FAILED_STAGE, records.RUNTIME_ERROR)


@dataclass(frozen=True, slots=True)
class SpaceStatus:
    state: str  # CSGHub's stage: running, building, sleeping, paused, stopped, build-failed, runtime-error, no-app
    reason: str = ""
    notes: tuple[str, ...] = ()  # what the hub could not honour (sdk_version, python_version)

    @property
    def failed(self) -> bool:
        return self.state in FAILURES


def find_status(hub: Hub, actor: Actor, repo: RepoView) -> SpaceStatus:
    view = records.get_space(hub, actor, repo.namespace, repo.name)
    return SpaceStatus(view.stage, view.reason, view.notes)


def states_of(spaces: Iterable[RepoView], hub: Hub) -> dict[int, str]:
    """The stage of each space of a page the viewer already may see, by repository id."""
    return {repo_id: view.stage for repo_id, view in records.views_of(hub, list(spaces)).items()}


def may_read_logs(actor: Actor, repo: RepoView) -> bool:
    """The logs are the space's administrators' (services/spaces/logs.py asks MANAGE)."""
    return can(actor, Action.MANAGE, repo.resource)


def logs_url(repo: RepoView) -> str:
    return f"/api/v1/spaces/{repo.full_name}/logs"
