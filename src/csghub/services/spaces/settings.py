"""A space's settings, for its owners (MANAGE on the repository): hardware (a tier of one of the hub's
clusters; its name is the Hugging Face hardware flavor), sleep time, whether the app gets a read token,
secrets and variables. A change of hardware, secrets or variables restarts a running space; what its
app's environment holds is built here at each start (launch_env, which wiring hands to compute)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.core.errors import InvalidArgument
from csghub.db.models import ComputeCluster, ComputeInstance, ComputeTier, Namespace, Repo, utcnow
from csghub.services.compute import instances
from csghub.services.compute.tokens import mint_model_token
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor
from csghub.services.repositories.repos import RepoView
from csghub.services.spaces import secrets
from csghub.services.spaces.lifecycle import current_view, live_instance, start
from csghub.services.spaces.records import SpaceView, find_instance, space_repo, spec_of
from csghub.services.spaces.secrets import EnvEntry

MAX_SLEEP_SECONDS = 365 * 24 * 3600
TOKEN_SECONDS = 7 * 24 * 3600  # lives in the app's environment while it runs; each start mints a fresh one


@dataclass(frozen=True, slots=True)
class SpaceSettings:
    """What to change (None: unchanged)."""

    hardware: str | None = None  # a tier's name
    cluster_id: int | None = None
    sleep_seconds: int | None = None  # 0 = never
    allow_token: bool | None = None


def _tier(session: Session, cluster_id: int, name: str) -> tuple[int, int]:
    cluster = session.get(ComputeCluster, cluster_id)
    if cluster is None or not cluster.enabled:
        raise InvalidArgument(f"Unknown cluster #{cluster_id}")
    tiers = session.scalars(
        select(ComputeTier).where(ComputeTier.cluster_id == cluster_id, ComputeTier.enabled.is_(True))
    ).all()
    found = next((t for t in tiers if t.name == name), None)
    if found is None:
        names = ", ".join(sorted(t.name for t in tiers)) or "none"
        raise InvalidArgument(f"Unknown hardware '{name}' on cluster '{cluster.name}' (this hub has: {names})")
    return cluster.id, found.id


def update_settings(hub: Hub, actor: Actor, owner: str, name: str, change: SpaceSettings) -> SpaceView:
    repo, instance_id = live_instance(hub, actor, owner, name, Action.MANAGE)
    if change.sleep_seconds is not None and not 0 <= change.sleep_seconds <= MAX_SLEEP_SECONDS:
        raise InvalidArgument(f"The sleep time is 0 (never) to {MAX_SLEEP_SECONDS} seconds")
    with hub.db() as session:
        row = session.get(ComputeInstance, instance_id)
        assert row is not None  # _live found it
        spec = spec_of(row)
        restart = False
        if change.hardware is not None or change.cluster_id is not None:
            tier = session.get(ComputeTier, row.tier_id)
            hardware = change.hardware if change.hardware is not None else (tier.name if tier else "")
            cluster_id, tier_id = _tier(session, change.cluster_id or row.cluster_id, hardware)
            restart = (cluster_id, tier_id) != (row.cluster_id, row.tier_id)
            row.cluster_id, row.tier_id = cluster_id, tier_id
        if change.sleep_seconds is not None and not spec.get("static"):
            spec["sleep_seconds"] = change.sleep_seconds
        if change.allow_token is not None:
            restart = restart or bool(spec.get("allow_token")) != change.allow_token
            spec["allow_token"] = change.allow_token
        row.spec = json.dumps(spec)
        instances.add_event(session, row.id, f"settings changed by {actor.name}")
        live = row.desired == "running" and row.state not in (instances.STOPPED, instances.FAILED)
    if restart and live:
        return start(hub, repo, instance_id, f"settings changed by {actor.name}", rebuild=True)
    return current_view(hub, repo)


def set_entry(
    hub: Hub, actor: Actor, owner: str, name: str, key: str, value: object, description: object, *, secret: bool
) -> SpaceView:
    """Save a secret (encrypted, never shown again) or a variable; a running space restarts with it."""
    secrets.check_name(key)
    text, about = secrets.check_value(value, description)
    repo = _repo_for_settings(hub, actor, owner, name)
    with hub.db() as session:
        secrets.put(session, hub.settings.secret_key, repo.id, key, text, about, secret=secret)
    return _restart_if_live(hub, actor, repo, f"{'secret' if secret else 'variable'} {key} saved")


def delete_entry(hub: Hub, actor: Actor, owner: str, name: str, key: str, *, secret: bool) -> SpaceView:
    repo = _repo_for_settings(hub, actor, owner, name)
    with hub.db() as session:
        secrets.remove(session, repo.id, secrets.check_name(key), secret=secret)
    return _restart_if_live(hub, actor, repo, f"{'secret' if secret else 'variable'} {key} deleted")


def list_entries(hub: Hub, actor: Actor, owner: str, name: str, *, secret: bool) -> list[EnvEntry]:
    """Names, descriptions and update times; variables' values too, never secrets'."""
    repo = _repo_for_settings(hub, actor, owner, name)
    with hub.db() as session:
        return secrets.entries(session, repo.id, secret=secret)


def _repo_for_settings(hub: Hub, actor: Actor, owner: str, name: str) -> RepoView:
    return space_repo(hub, actor, owner, name, Action.MANAGE)


def _restart_if_live(hub: Hub, actor: Actor, repo: RepoView, why: str) -> SpaceView:
    with hub.db() as session:
        row = find_instance(session, repo.id)
        if row is None:
            return current_view(hub, repo)
        live = row.desired == "running" and row.state not in (instances.STOPPED, instances.FAILED)
        instance_id, static = row.id, bool(spec_of(row).get("static"))
    if live and not static:
        return start(hub, repo, instance_id, f"{why} by {actor.name}", rebuild=True)
    return current_view(hub, repo)


def _declared_repo_ids(session: Session, kind: str, names: list[str]) -> list[int]:
    found: list[int] = []
    for full in names:
        namespace, _, name = str(full).partition("/")
        repo_id = session.scalar(
            select(Repo.id)
            .join(Namespace, Repo.namespace_id == Namespace.id)
            .where(Repo.type == kind, Namespace.name_key == namespace.lower(), Repo.name_key == name.lower())
        )
        if repo_id is not None:
            found.append(repo_id)
    return found


def launch_env(hub: Hub, instance_id: int) -> dict[str, str]:
    """The app's environment at each start: its variables and decrypted secrets, SPACE_ID and friends, an
    HF_TOKEN (for the launcher's checkout; the app keeps it only when its owners allow it, and then it
    also reads the models and datasets the card declares), and CSGHUB_SPACE_TOKEN_ALLOWED=1 then."""
    with hub.db() as session:
        row = session.get(ComputeInstance, instance_id)
        if row is None or row.repo_id is None:
            return {}
        spec = spec_of(row)
        env, lost = secrets.environment(session, hub.settings.secret_key, row.repo_id)
        if lost:
            instances.add_event(
                session, row.id, f"secrets that no longer decrypt were left out: {', '.join(lost)}", level="warning"
            )
        repo_ids = [row.repo_id]
        allowed = bool(spec.get("allow_token"))
        if allowed:
            repo_ids += _declared_repo_ids(session, "model", list(spec.get("models", ())))
            repo_ids += _declared_repo_ids(session, "dataset", list(spec.get("datasets", ())))
        owner, name, user = row.namespace.name, row.name, row.created_by or 0
        row.active_at = utcnow()  # a fresh start is activity: it does not fall asleep at once
    full = f"{owner}/{name}"
    # Not SYSTEM=spaces: Gradio then acts as on Hugging Face's machines (its API closed to clients, hot
    # reloading through the `spaces` package, Hugging Face's OAuth), none of which is true here.
    env |= {"SPACE_ID": full, "SPACE_AUTHOR_NAME": owner, "SPACE_REPO_NAME": name}
    env["HF_TOKEN"] = mint_model_token(hub, user, tuple(dict.fromkeys(repo_ids)), ttl=TOKEN_SECONDS)
    if allowed:
        env["CSGHUB_SPACE_TOKEN_ALLOWED"] = "1"
    return env
