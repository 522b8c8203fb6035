"""A space's own settings in the portal: the "Space" section at the top of its settings page (hardware,
sleep time, the read-token switch, secrets, variables; restart, factory rebuild, pause and run). Each
form posts to `{space}/settings/space-{what}` (web/repo_settings_pages.py routes it here) and is one call
of services/spaces, which decides who may (the space's administrators) and what is valid.

A secret's value goes one way: the form posts it, the service encrypts it, and no page shows it again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoId
from csghub.services.compute import clusters
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, can
from csghub.services.repositories.repos import RepoView
from csghub.services.spaces import lifecycle, records, settings
from csghub.services.spaces.secrets import EnvEntry
from csghub.web.space_cards import space_cards


@dataclass(frozen=True, slots=True)
class SpaceSettingsView:
    """What the section shows: the space's status and settings, its secrets' names, its variables."""

    state: str
    runnable: bool  # it has an instance: hardware, sleep, token and the actions apply
    tier_id: int | None
    sleep_minutes: int
    token_allowed: bool
    secrets: list[EnvEntry]
    variables: list[EnvEntry]


def settings_context(hub: Hub, actor: Actor, repo: RepoView) -> dict[str, Any]:
    """The section's part of the settings page's context (empty for those who may not change it)."""
    if not can(actor, Action.MANAGE, repo.resource):
        return {}
    view = records.get_space(hub, actor, repo.namespace, repo.name)
    owner, name = repo.namespace, repo.name
    shown = SpaceSettingsView(
        state=view.stage,
        runnable=view.instance_id is not None,
        tier_id=view.tier.id if view.tier is not None else None,
        sleep_minutes=view.sleep_seconds // 60,
        token_allowed=view.allow_token,
        secrets=settings.list_entries(hub, actor, owner, name, secret=True),
        variables=settings.list_entries(hub, actor, owner, name, secret=False),
    )
    tiers = [t for t in clusters.list_tiers(hub, actor) if t.enabled]
    card = space_cards(hub, actor, [repo], {repo.id: view.stage})[repo.id]
    return {
        "space_settings": shown,
        "space": card,
        "space_tiers": tiers,
        "space_clusters": {c.id: c.name for c in clusters.list_clusters(hub, actor)},
    }


def _whole(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidArgument(f"{what} must be a whole number") from None


def _hardware(hub: Hub, actor: Actor, repo_id: RepoId, fields: dict[str, str]) -> str:
    tier_id = _whole(fields.get("tier_id", ""), "The tier")
    tier = next((t for t in clusters.list_tiers(hub, actor) if t.id == tier_id and t.enabled), None)
    if tier is None:
        raise InvalidArgument(f"Unknown tier #{tier_id}")
    change = settings.SpaceSettings(hardware=tier.name, cluster_id=tier.cluster_id)
    settings.update_settings(hub, actor, repo_id.namespace, repo_id.name, change)
    return "Hardware saved"


def _sleep(hub: Hub, actor: Actor, repo_id: RepoId, fields: dict[str, str]) -> str:
    minutes = _whole(fields.get("sleep_minutes", ""), "The sleep time")
    if minutes < 0:
        raise InvalidArgument("The sleep time is 0 (never) or more minutes")
    change = settings.SpaceSettings(sleep_seconds=minutes * 60)
    settings.update_settings(hub, actor, repo_id.namespace, repo_id.name, change)
    return "Sleep time saved"


def _token(hub: Hub, actor: Actor, repo_id: RepoId, fields: dict[str, str]) -> str:
    change = settings.SpaceSettings(allow_token=fields.get("allow_token") == "on")
    settings.update_settings(hub, actor, repo_id.namespace, repo_id.name, change)
    return "Token setting saved"


def _entry(secret: bool) -> Callable[[Hub, Actor, RepoId, dict[str, str]], str]:
    def save(hub: Hub, actor: Actor, repo_id: RepoId, fields: dict[str, str]) -> str:
        key, value = fields.get("name", "").strip(), fields.get("value", "")
        settings.set_entry(hub, actor, repo_id.namespace, repo_id.name, key, value, "", secret=secret)
        return "Secret saved" if secret else "Variable saved"

    return save


def _drop(secret: bool) -> Callable[[Hub, Actor, RepoId, dict[str, str]], str]:
    def drop(hub: Hub, actor: Actor, repo_id: RepoId, fields: dict[str, str]) -> str:
        key = fields.get("name", "").strip()
        settings.delete_entry(hub, actor, repo_id.namespace, repo_id.name, key, secret=secret)
        return "Secret deleted" if secret else "Variable deleted"

    return drop


def _restart(hub: Hub, actor: Actor, repo_id: RepoId, _fields: dict[str, str]) -> str:
    lifecycle.restart_space(hub, actor, repo_id.namespace, repo_id.name)
    return "Space restarting"


def _rebuild(hub: Hub, actor: Actor, repo_id: RepoId, _fields: dict[str, str]) -> str:
    lifecycle.restart_space(hub, actor, repo_id.namespace, repo_id.name, factory=True)
    return "Space rebuilding from scratch"


def _pause(hub: Hub, actor: Actor, repo_id: RepoId, _fields: dict[str, str]) -> str:
    lifecycle.pause_space(hub, actor, repo_id.namespace, repo_id.name)
    return "Space paused"


def _run(hub: Hub, actor: Actor, repo_id: RepoId, _fields: dict[str, str]) -> str:
    lifecycle.run_space(hub, actor, repo_id.namespace, repo_id.name)
    return "Space starting"


# The settings page's sections of a space, by the last segment of the URL they post to: each returns
# the notice shown when the page comes back.
ACTIONS: dict[str, Callable[[Hub, Actor, RepoId, dict[str, str]], str]] = {
    "space-hardware": _hardware,
    "space-sleep": _sleep,
    "space-token": _token,
    "space-secret": _entry(secret=True),
    "space-secret-delete": _drop(secret=True),
    "space-variable": _entry(secret=False),
    "space-variable-delete": _drop(secret=False),
    "space-restart": _restart,
    "space-rebuild": _rebuild,
    "space-pause": _pause,
    "space-run": _run,
}
