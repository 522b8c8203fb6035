"""Request-scoped helpers shared by the API, web and transports: the hub, the actor, the base URL."""

from __future__ import annotations

import base64
import binascii
import dataclasses

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import PermissionDenied, Unauthenticated
from csghub.core.signing import read_token
from csghub.services.compute import tokens as compute_tokens
from csghub.services.context import Hub
from csghub.services.identity import accounts, sessions, signin, throttle, tokens
from csghub.services.permissions import ANONYMOUS, Actor

SESSION_COOKIE = "csghub_session"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


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


def resolve_actor(hub: Hub, creds: tuple[str, str] | None, address: str = "") -> Actor:
    if creds is None:
        return ANONYMOUS
    user, secret = creds
    if not secret:
        raise Unauthenticated("Empty credentials")
    claims = read_token(hub.settings.secret_key, secret) if "." in secret else None
    if claims is not None and claims.get("kind") == "ssh-lfs":
        # Handed out by `git-lfs-authenticate` over SSH to a user who logged in with a key.
        return accounts.actor_from_user_id(hub, int(str(claims["user"])))
    if claims is not None and claims.get("kind") == compute_tokens.KIND:
        # An endpoint replica downloading its model's weights from this hub.
        return compute_tokens.actor_from_model_token(hub, claims)
    if address:
        throttle.check_not_locked(hub, [throttle.address_key(address)])
    if secret.startswith(tokens.TOKEN_PREFIX) or not user:
        return tokens.actor_from_token(hub, secret, address=address)[0]
    # git users may type their account password instead of a token.
    return signin.actor_from_password(hub, user, secret, address=address)


async def _session_actor(request: Request, hub: Hub, session_id: str) -> Actor:
    key = "session\x00" + accounts.sha256_hex(session_id)
    cached: tuple[Actor, str] | None = hub.actors.get(key)
    if cached is None:
        cached = await run_in_threadpool(sessions.actor_from_session, hub, session_id)
        hub.actors.put(key, cached)
    actor, csrf = cached
    # A cookie rides along with any cross-site form post; only our own pages know the CSRF token.
    if request.method not in _SAFE_METHODS and not getattr(request.state, "csrf_ok", False):
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or sent != csrf:
            raise PermissionDenied("Missing or wrong CSRF token: send the X-CSRF-Token header", code="CsrfFailed")
    request.state.csrf_token = csrf
    return actor


async def get_actor(request: Request) -> Actor:
    cached: Actor | None = getattr(request.state, "actor", None)
    if cached is not None:
        return cached
    hub = get_hub(request)
    address = client_address(request)
    creds = _credentials(request)
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if creds is None and session_id:
        actor = await _session_actor(request, hub, session_id)
    else:
        # Credentials seen in the last seconds resolve without a database round trip or a thread hop.
        key = accounts.sha256_hex(f"{creds[0]}\x00{creds[1]}") if creds else ""
        found: Actor | None = hub.actors.get(key) if creds else ANONYMOUS
        if found is None:
            found = await run_in_threadpool(resolve_actor, hub, creds, address)
            hub.actors.put(key, found)
        actor = found
    if address and not actor.is_anonymous:
        actor = dataclasses.replace(actor, address=address)
    request.state.actor = actor
    return actor


def local_path(value: str | None) -> str:
    """A redirect target after sign-in: only a path on this site, never somewhere else."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def base_url(request: Request) -> str:
    hub = get_hub(request)
    if hub.settings.public_url:
        return hub.settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def token_of(request: Request) -> str | None:
    creds = _credentials(request)
    return creds[1] if creds else None


def set_session_cookie(request: Request, response: Response, signed: sessions.SignedIn) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        signed.session_id,
        max_age=signed.max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
