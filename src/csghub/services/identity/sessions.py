"""Browser sessions: sign in with a password (or a sign-in provider), a random session id in a cookie,
its sha256 in the database, and a CSRF token that unsafe requests made with the cookie must echo.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import delete

from csghub.core.errors import Unauthenticated
from csghub.db.models import User, WebSession, utcnow
from csghub.services import audit
from csghub.services.context import Hub
from csghub.services.identity import accounts, signin
from csghub.services.permissions import Actor


@dataclass(frozen=True, slots=True)
class SignedIn:
    session_id: str
    csrf_token: str
    user: accounts.UserView
    max_age: int


def open_session(hub: Hub, actor: Actor, *, method: str = "password") -> SignedIn:
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    ttl = hub.settings.session_ttl
    assert actor.user_id is not None
    with hub.db() as session:
        session.add(
            WebSession(
                id_hash=accounts.sha256_hex(session_id),
                user_id=actor.user_id,
                csrf_token=csrf,
                expires_at=utcnow() + timedelta(seconds=ttl),
            )
        )
        # Expired sessions are swept on sign-in, which is rare enough to do it inline.
        session.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))
        audit.record(session, actor, "login", namespace=actor.name, target=actor.name, detail={"method": method})
    return SignedIn(session_id, csrf, accounts.get_user(hub, actor.user_id), ttl)


def login(hub: Hub, name: str, password: str, *, address: str = "") -> SignedIn:
    actor = signin.actor_from_password(hub, name, password, address=address)
    return open_session(hub, replace(actor, address=address))


def logout(hub: Hub, session_id: str) -> None:
    with hub.db() as session:
        session.execute(delete(WebSession).where(WebSession.id_hash == accounts.sha256_hex(session_id)))
    hub.actors.clear()


def actor_from_session(hub: Hub, session_id: str) -> tuple[Actor, str]:
    """The session's actor and its CSRF token."""
    with hub.db() as session:
        row = session.get(WebSession, accounts.sha256_hex(session_id))
        if row is None or row.expires_at < utcnow():
            raise Unauthenticated("Your session has expired; sign in again", code="SessionExpired")
        user = session.get(User, row.user_id)
        assert user is not None
        return accounts.actor_for_user(session, user), row.csrf_token


def end_sessions_of(hub: Hub, user_id: int) -> None:
    """Sign a user out everywhere (after a password change or when disabled)."""
    with hub.db() as session:
        session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    hub.actors.clear()
