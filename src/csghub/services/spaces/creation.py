"""Creating a space the way huggingface_hub's create_repo(repo_type="space", space_sdk=...) does: the
repository with a README declaring its sdk, then its instance (started at once), with the hardware,
sleep time, secrets and variables the request names."""

from __future__ import annotations

from dataclasses import dataclass

from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoId, RepoType
from csghub.services.context import Hub
from csghub.services.permissions import Actor
from csghub.services.repositories import repos
from csghub.services.repositories.repos import RepoView
from csghub.services.spaces import lifecycle, settings
from csghub.services.spaces.config import SDKS

# What huggingface_hub accepts as space_sdk; "docker" makes a plain repository here (no runtime for it).
ACCEPTED_SDKS = (*SDKS, "docker")


@dataclass(frozen=True, slots=True)
class NewSpace:
    sdk: str
    visibility: str = "public"
    description: str = ""
    license: str = ""
    hardware: str | None = None
    sleep_seconds: int | None = None
    secrets: tuple[tuple[str, str, str], ...] = ()  # (key, value, description)
    variables: tuple[tuple[str, str, str], ...] = ()


def create_space(hub: Hub, actor: Actor, repo_id: RepoId, new: NewSpace) -> RepoView:
    if new.sdk not in ACCEPTED_SDKS:
        raise InvalidArgument(f"Invalid sdk '{new.sdk}': expected one of {', '.join(ACCEPTED_SDKS)}")
    view = repos.create_repo(
        hub,
        actor,
        RepoType.SPACE,
        repo_id,
        visibility=new.visibility,
        description=new.description,
        license=new.license,
        card={"sdk": new.sdk},
    )
    lifecycle.sync(hub, view, f"created by {actor.name}")
    owner, name = view.namespace, view.name
    for key, value, about in new.secrets:
        settings.set_entry(hub, actor, owner, name, key, value, about, secret=True)
    for key, value, about in new.variables:
        settings.set_entry(hub, actor, owner, name, key, value, about, secret=False)
    if (new.hardware is not None or new.sleep_seconds is not None) and new.sdk in SDKS:
        change = settings.SpaceSettings(hardware=new.hardware, sleep_seconds=new.sleep_seconds)
        settings.update_settings(hub, actor, owner, name, change)
    return view
