"""The credential a replica downloads its weights with: a short-lived signed token (never stored) that
acts as the endpoint's creator but reaches its model's repository (and an adapter's base model's), to
read it, and nothing else."""

from __future__ import annotations

import dataclasses
import time

from csghub.core.signing import make_token
from csghub.services.context import Hub
from csghub.services.identity import accounts
from csghub.services.permissions import Actor, Grant

KIND = "model-read"
# Long enough for a large download to start; every replica start mints a fresh one.
TTL_SECONDS = 6 * 3600


def mint_model_token(hub: Hub, user_id: int, repo_ids: tuple[int, ...], *, ttl: int = TTL_SECONDS) -> str:
    """For the model's repository (and an adapter's base model's)."""
    claims: dict[str, object] = {"kind": KIND, "user": user_id, "repos": list(repo_ids)}
    return make_token(hub.settings.secret_key, claims, expires_at=int(time.time()) + ttl)


def actor_from_model_token(hub: Hub, claims: dict[str, object]) -> Actor:
    """The creator's rights, cut down by the credential gate to READ and DOWNLOAD of those repositories."""
    actor = accounts.actor_from_user_id(hub, int(str(claims["user"])))
    repos = claims.get("repos")
    targets = [int(r) for r in repos if isinstance(r, int)] if isinstance(repos, list) else []
    grants = tuple(Grant(kind="repo", target=t, actions=frozenset({"read"})) for t in targets)
    return dataclasses.replace(actor, scope="fine", grants=grants)
