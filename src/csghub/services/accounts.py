"""Users, organizations and access tokens; turning credentials into an Actor.

Passwords are hashed with argon2; tokens are random and stored as their sha256, which is enough for
secrets with 256 bits of entropy and lets a request find its token in one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict, InvalidArgument, NotFound, Unauthenticated
from csghub.core.names import validate_namespace
from csghub.db.models import AccessToken, Namespace, OrgMember, User, utcnow
from csghub.services.context import Hub
from csghub.services.permissions import Actor

TOKEN_PREFIX = "csg_"
_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    name: str
    email: str
    is_admin: bool
    full_name: str


@dataclass(frozen=True, slots=True)
class TokenView:
    name: str
    scope: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _claim_namespace(session: Session, name: str, kind: str) -> Namespace:
    validate_namespace(name)
    if session.scalar(select(Namespace).where(Namespace.name_key == name.lower())) is not None:
        raise Conflict(f"The name '{name}' is already taken by a user or organization")
    ns = Namespace(name=name, name_key=name.lower(), kind=kind)
    session.add(ns)
    session.flush()
    return ns


def create_user(hub: Hub, name: str, *, email: str = "", password: str = "", is_admin: bool = False) -> UserView:
    if email and "@" not in email:
        raise InvalidArgument(f"Invalid email address '{email}'")
    with hub.db() as session:
        ns = _claim_namespace(session, name, "user")
        user = User(id=ns.id, email=email, password_hash=_hasher.hash(password) if password else "", is_admin=is_admin)
        session.add(user)
        return UserView(ns.id, name, email, is_admin, "")


def _user_by_name(session: Session, name: str) -> User:
    user = session.scalar(select(User).join(Namespace).where(Namespace.name_key == name.lower()))
    if user is None:
        raise NotFound(f"User '{name}' does not exist")
    return user


def create_org(hub: Hub, name: str, *, owner: str, full_name: str = "") -> None:
    with hub.db() as session:
        user = _user_by_name(session, owner)
        ns = _claim_namespace(session, name, "org")
        ns.full_name = full_name
        session.add(OrgMember(org_id=ns.id, user_id=user.id, role="admin"))


def add_org_member(hub: Hub, org: str, user_name: str, role: str) -> None:
    if role not in ("admin", "write", "read"):
        raise InvalidArgument(f"Invalid role '{role}': expected admin, write or read")
    with hub.db() as session:
        ns = session.scalar(select(Namespace).where(Namespace.name_key == org.lower(), Namespace.kind == "org"))
        if ns is None:
            raise NotFound(f"Organization '{org}' does not exist")
        user = _user_by_name(session, user_name)
        member = session.get(OrgMember, (ns.id, user.id))
        if member is None:
            session.add(OrgMember(org_id=ns.id, user_id=user.id, role=role))
        else:
            member.role = role


def create_token(hub: Hub, user_name: str, *, name: str = "default", scope: str = "write") -> str:
    if scope not in ("read", "write"):
        raise InvalidArgument(f"Invalid token scope '{scope}': expected read or write")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with hub.db() as session:
        user = _user_by_name(session, user_name)
        session.add(AccessToken(user_id=user.id, name=name, token_hash=hash_token(token), scope=scope))
    return token


def _actor_for(session: Session, user: User, scope: str) -> Actor:
    return actor_for_user(session, user, scope)


def actor_for_user(session: Session, user: User, scope: str = "write") -> Actor:
    rows = session.execute(
        select(Namespace.name_key, OrgMember.role)
        .join(OrgMember, OrgMember.org_id == Namespace.id)
        .where(OrgMember.user_id == user.id)
    ).all()
    return Actor(
        user_id=user.id,
        name=user.namespace.name,
        is_admin=user.is_admin,
        scope=scope,
        org_roles={key: role for key, role in rows},
    )


def actor_from_token(hub: Hub, token: str) -> tuple[Actor, TokenView]:
    with hub.db() as session:
        row = session.scalar(select(AccessToken).where(AccessToken.token_hash == hash_token(token)))
        if row is None:
            raise Unauthenticated("Invalid credentials in Authorization header", code="InvalidToken")
        user = session.get(User, row.user_id)
        assert user is not None
        now = utcnow()
        # Touch at most once a minute: a write per request would serialize reads on SQLite.
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            row.last_used_at = now
        return _actor_for(session, user, row.scope), TokenView(row.name, row.scope)


def actor_from_password(hub: Hub, name: str, password: str) -> Actor:
    with hub.db() as session:
        user = session.scalar(select(User).join(Namespace).where(Namespace.name_key == name.lower()))
        if user is None or not user.password_hash:
            raise Unauthenticated("Invalid username or password")
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            raise Unauthenticated("Invalid username or password") from None
        return _actor_for(session, user, "write")


def get_user(hub: Hub, user_id: int) -> UserView:
    with hub.db() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("User does not exist")
        return UserView(user.id, user.namespace.name, user.email, user.is_admin, user.namespace.full_name)


def list_user_orgs(hub: Hub, user_id: int) -> list[tuple[str, str]]:
    with hub.db() as session:
        rows = session.execute(
            select(Namespace.name, OrgMember.role)
            .join(OrgMember, OrgMember.org_id == Namespace.id)
            .where(OrgMember.user_id == user_id)
        ).all()
        return [(n, r) for n, r in rows]


def actor_from_user_id(hub: Hub, user_id: int) -> Actor:
    with hub.db() as session:
        user = session.get(User, user_id)
        if user is None:
            raise Unauthenticated("The account of this credential no longer exists")
        return actor_for_user(session, user)
