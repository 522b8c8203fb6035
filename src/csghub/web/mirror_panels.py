"""The one place the portal reads a repository's mirroring (services/mirrors): whether the repository a
page shows is a mirror, what its panel says (source, upstream, last and next sync, the current task), who
may manage it, and who may see "New mirror". A mirror is read-only: the services refuse every write to
it (permissions: WRITE is never granted on a mirror), so its pages hide upload, edit and branch buttons
as they do for anyone who may not write; the panel says why."""

from __future__ import annotations

from dataclasses import dataclass

from csghub.core.errors import NotFound
from csghub.core.names import RepoId
from csghub.services.context import Hub
from csghub.services.mirrors import choices, mirrors
from csghub.services.mirrors.records import MirrorView
from csghub.services.permissions import Action, Actor, can
from csghub.services.repositories.repos import RepoView

# The schedules the forms offer (seconds, label); 0 syncs only when asked.
INTERVALS = (
    (0, "Only by hand"),
    (3600, "Every hour"),
    (6 * 3600, "Every 6 hours"),
    (86400, "Every day"),
    (7 * 86400, "Every week"),
)


@dataclass(frozen=True, slots=True)
class MirrorPanel:
    view: MirrorView
    upstream_url: str | None  # None: the source is on a private address, so its id is plain text
    may_manage: bool  # Sync now, Pause/Resume and the interval

    @property
    def intervals(self) -> tuple[tuple[int, str], ...]:
        return INTERVALS


def find_panel(hub: Hub, actor: Actor, repo: RepoView) -> MirrorPanel | None:
    """The mirror panel of `repo`, or None when it is not a mirror."""
    if not repo.mirror_of:  # filled in when the repository was read: no query for the others
        return None
    try:
        view = mirrors.get_mirror(hub, actor, repo.type, RepoId.parse(repo.full_name))
    except NotFound:  # deleted since the page read the repository: a plain repository now
        return None
    url = choices.public_upstream_page(hub, view.source, view.upstream_type.value, view.upstream_id)
    return MirrorPanel(view, url, can(actor, Action.ADMIN, repo.resource))


def may_create_mirrors(hub: Hub, actor: Actor) -> bool:
    """Whether "New mirror" is offered to `actor` (setting mirror_creators; the service decides again)."""
    return choices.may_create_mirrors(hub, actor)
