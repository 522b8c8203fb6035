"""Request-scoped helpers shared by the API, web and transports: the hub, the actor, the base URL."""

from __future__ import annotations

import base64
import binascii

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import Unauthenticated
from csghub.core.signing import read_token
from csghub.services import accounts
from csghub.services.context import Hub
from csghub.services.permissions import ANONYMOUS, Actor


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _credentials(request: Request) -> tuple[str, str] | None:
    """(username, secret) from Bearer or Basic; username is empty for Bearer."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return "", value
    if scheme.lower() == "basic" and value:
        try:
            user, _, secret = base64.b64decode(value).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("Malformed Basic credentials") from None
        return user, secret
    return None


def resolve_actor(hub: Hub, creds: tuple[str, str] | None) -> Actor:
    if creds is None:
        return ANONYMOUS
    user, secret = creds
    if not secret:
        raise Unauthenticated("Empty credentials")
    claims = read_token(hub.settings.secret_key, secret) if "." in secret else None
    if claims is not None and claims.get("kind") == "ssh-lfs":
        # Handed out by `git-lfs-authenticate` over SSH to a user who logged in with a key.
        return accounts.actor_from_user_id(hub, int(str(claims["user"])))
    try:
        return accounts.actor_from_token(hub, secret)[0]
    except Unauthenticated:
        # git users may type their account password instead of a token.
        if user:
            return accounts.actor_from_password(hub, user, secret)
        raise


async def get_actor(request: Request) -> Actor:
    cached: Actor | None = getattr(request.state, "actor", None)
    if cached is not None:
        return cached
    hub = get_hub(request)
    creds = _credentials(request)
    # Credentials seen in the last seconds resolve without a database round trip or a thread hop.
    key = accounts.hash_token(f"{creds[0]}\x00{creds[1]}") if creds else ""
    actor = hub.actors.get(key) if creds else ANONYMOUS
    if actor is None:
        actor = await run_in_threadpool(resolve_actor, hub, creds)
        hub.actors.put(key, actor)
    request.state.actor = actor
    return actor


def base_url(request: Request) -> str:
    hub = get_hub(request)
    if hub.settings.public_url:
        return hub.settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def token_of(request: Request) -> str | None:
    creds = _credentials(request)
    return creds[1] if creds else None
