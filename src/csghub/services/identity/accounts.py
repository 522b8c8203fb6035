"""User accounts: registration, the first administrator, passwords, disabling; and turning an account
into an Actor with everything authorize() needs (organization roles, collaborations, gate approvals).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict, HubError, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from csghub.core.names import validate_namespace
from csghub.db.models import (
    GateRequest,
    Namespace,
    OrgMember,
    RegistrationInvite,
    RepoCollaborator,
    SiteSetting,
    User,
    WebSession,
    utcnow,
)
from csghub.services import audit
from csghub.services.context import Hub
from csghub.services.identity.passwords import check_password_strength, hash_password, verify_password
from csghub.services.permissions import SITE, Action, Actor, Grant, Resource, authorize, can

SETUP_TOKEN_KEY = "setup_token_sha256"


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    name: str
    email: str
    is_admin: bool
    full_name: str
    disabled: bool = False
    auth_source: str = "local"
    created_at: datetime | None = None


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _view(user: User) -> UserView:
    ns = user.namespace
    return UserView(
        user.id, ns.name, user.email, user.is_admin, ns.full_name, user.disabled, user.auth_source, ns.created_at
    )


def claim_namespace(session: Session, name: str, kind: str) -> Namespace:
    validate_namespace(name)
    if session.scalar(select(Namespace).where(Namespace.name_key == name.lower())) is not None:
        raise Conflict(f"The name '{name}' is already taken by a user or organization", code="NameTaken")
    ns = Namespace(name=name, name_key=name.lower(), kind=kind)
    session.add(ns)
    session.flush()
    return ns


def _validate_email(email: str) -> str:
    email = email.strip()
    local, at, domain = email.partition("@")
    if email and (not at or not local or "." not in domain or any(c.isspace() for c in email) or len(email) > 320):
        raise InvalidArgument(f"Invalid email address '{email}'")
    return email


def email_taken(session: Session, email: str, *, other_than: int | None = None) -> bool:
    stmt = select(User.id).where(func.lower(User.email) == email.lower())
    if other_than is not None:
        stmt = stmt.where(User.id != other_than)
    return session.scalar(stmt.limit(1)) is not None


def insert_user(
    session: Session,
    name: str,
    *,
    email: str,
    password: str,
    is_admin: bool,
    auth_source: str,
    full_name: str = "",
    external_id: str = "",
) -> User:
    email = _validate_email(email)
    ns = claim_namespace(session, name, "user")
    if email and email_taken(session, email):
        raise Conflict(f"The email address '{email}' is already used by another account", code="EmailTaken")
    ns.full_name = full_name
    user = User(
        id=ns.id,
        email=email,
        password_hash=hash_password(password) if password else "",
        is_admin=is_admin,
        auth_source=auth_source,
        external_id=external_id,
    )
    session.add(user)
    session.flush()
    session.refresh(user)
    return user


def create_user(
    hub: Hub,
    name: str,
    *,
    email: str = "",
    password: str = "",
    is_admin: bool = False,
    actor: Actor | None = None,
    auth_source: str = "local",
    full_name: str = "",
) -> UserView:
    """An account made by an operator (CLI), an administrator (`actor`), or a sign-in provider."""
    if actor is not None:
        authorize(actor, Action.MANAGE, SITE)
    if password:
        check_password_strength(password, username=name)
    with hub.db() as session:
        user = insert_user(
            session,
            name,
            email=email,
            password=password,
            is_admin=is_admin,
            auth_source=auth_source,
            full_name=full_name,
        )
        audit.record(session, actor, "user.create", namespace=name, target=name, detail={"admin": is_admin})
        return _view(user)


def register(hub: Hub, name: str, *, email: str, password: str, invite_code: str = "", address: str = "") -> UserView:
    """Self-service sign-up, as the `registration` setting allows."""
    policy = hub.settings.registration
    if policy == "admin":
        raise PermissionDenied("Registration is closed: ask an administrator to create your account")
    if not email:
        raise InvalidArgument("An email address is required")
    check_password_strength(password, username=name)
    with hub.db() as session:
        if policy == "invite":
            invite = session.get(RegistrationInvite, sha256_hex(invite_code)) if invite_code else None
            if invite is None or invite.used_at is not None:
                raise PermissionDenied("Registration needs a valid invitation code from an administrator")
            if invite.email and invite.email.lower() != email.strip().lower():
                raise PermissionDenied("This invitation code was issued for another email address")
            invite.used_at = utcnow()
        user = insert_user(session, name, email=email, password=password, is_admin=False, auth_source="local")
        audit.record(session, None, "user.register", namespace=name, target=name, actor_name=name, address=address)
        return _view(user)


def create_registration_invite(hub: Hub, actor: Actor, *, email: str = "") -> str:
    authorize(actor, Action.MANAGE, SITE)
    code = "inv_" + secrets.token_urlsafe(24)
    with hub.db() as session:
        session.add(
            RegistrationInvite(code_hash=sha256_hex(code), email=_validate_email(email), created_by=actor.user_id)
        )
        audit.record(session, actor, "user.invite", target=email)
    return code


def ensure_setup_token(hub: Hub) -> str | None:
    """With no administrator yet, a fresh one-time token to create the first one; else None."""
    with hub.db() as session:
        if _admin_count(session):
            session.execute(delete(SiteSetting).where(SiteSetting.key == SETUP_TOKEN_KEY))
            return None
        token = "setup_" + secrets.token_urlsafe(24)
        row = session.get(SiteSetting, SETUP_TOKEN_KEY)
        if row is None:
            session.add(SiteSetting(key=SETUP_TOKEN_KEY, value=sha256_hex(token)))
        else:
            row.value = sha256_hex(token)
        return token


def setup_link_state(hub: Hub, token: str) -> Literal["open", "used", "invalid"]:
    """What the one-time setup link offers: "open" (the first administrator may be created with it),
    "used" (an administrator exists, so every setup link is spent) or "invalid" (not the token this
    hub printed last)."""
    with hub.db() as session:
        if _admin_count(session):
            return "used"
        row = session.get(SiteSetting, SETUP_TOKEN_KEY)
        if row is None or not token or not secrets.compare_digest(row.value, sha256_hex(token)):
            return "invalid"
        return "open"


def _admin_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.is_admin.is_(True))) or 0


def setup_first_admin(
    hub: Hub, token: str, name: str, *, password: str, email: str = "", address: str = ""
) -> UserView:
    check_password_strength(password, username=name)
    with hub.db() as session:
        row = session.get(SiteSetting, SETUP_TOKEN_KEY)
        if row is None or not token or not secrets.compare_digest(row.value, sha256_hex(token)):
            raise PermissionDenied("Invalid or used setup token")
        if _admin_count(session):
            raise Conflict("The first administrator already exists")
        session.delete(row)
        user = insert_user(session, name, email=email, password=password, is_admin=True, auth_source="local")
        audit.record(session, None, "user.setup_admin", namespace=name, target=name, actor_name=name, address=address)
        return _view(user)


def user_by_name(session: Session, name: str) -> User:
    user = session.scalar(select(User).join(Namespace).where(Namespace.name_key == name.lower()))
    if user is None:
        raise NotFound(f"User '{name}' does not exist")
    return user


def find_user_view(hub: Hub, name: str) -> UserView | None:
    with hub.db() as session:
        user = session.scalar(select(User).join(Namespace).where(Namespace.name_key == name.lower()))
        return _view(user) if user else None


def get_user(hub: Hub, user_id: int) -> UserView:
    with hub.db() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("User does not exist")
        return _view(user)


def list_users(hub: Hub, actor: Actor, *, search: str = "", limit: int = 100, offset: int = 0) -> list[UserView]:
    authorize(actor, Action.MANAGE, SITE)
    stmt = select(User).join(Namespace).order_by(Namespace.name_key).limit(min(limit, 1000)).offset(offset)
    if search:
        stmt = stmt.where(Namespace.name_key.like(f"%{search.lower()}%"))
    with hub.db() as session:
        return [_view(u) for u in session.scalars(stmt)]


def update_user(
    hub: Hub, actor: Actor, name: str, *, disabled: bool | None = None, is_admin: bool | None = None
) -> UserView:
    """Disable or enable an account, grant or remove site administration. Administrators only."""
    authorize(actor, Action.MANAGE, SITE)
    with hub.db() as session:
        user = user_by_name(session, name)
        if user.id == actor.user_id and (disabled or is_admin is False):
            raise InvalidArgument("You cannot disable yourself or remove your own administrator rights")
        if disabled is not None and disabled != user.disabled:
            user.disabled = disabled
            if disabled:
                session.execute(delete(WebSession).where(WebSession.user_id == user.id))
            audit.record(session, actor, "user.disable" if disabled else "user.enable", namespace=name, target=name)
        if is_admin is not None and is_admin != user.is_admin:
            user.is_admin = is_admin
            audit.record(session, actor, "user.admin", namespace=name, target=name, detail={"admin": is_admin})
        view = _view(user)
    hub.actors.clear()
    return view


def change_password(hub: Hub, actor: Actor, *, old_password: str, new_password: str) -> None:
    with hub.db() as session:
        user = session.get(User, actor.user_id) if actor.user_id else None
        if user is None:
            raise Unauthenticated("Sign in to change your password")
        if user.auth_source != "local":
            raise InvalidArgument(f"Your password is managed by {user.auth_source.upper()}; change it there")
        if not verify_password(user.password_hash, old_password):
            raise PermissionDenied("The current password is wrong")
        check_password_strength(new_password, username=user.namespace.name)
        user.password_hash = hash_password(new_password)
        audit.record(session, actor, "user.password_change", namespace=user.namespace.name, target=user.namespace.name)
    hub.actors.clear()


def reset_password(hub: Hub, actor: Actor, name: str, new_password: str) -> None:
    authorize(actor, Action.MANAGE, SITE)
    check_password_strength(new_password, username=name)
    with hub.db() as session:
        user = user_by_name(session, name)
        user.password_hash = hash_password(new_password)
        user.auth_source = "local"
        # Whoever knew the old password may be signed in somewhere: sign them out.
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
        audit.record(session, actor, "user.password_reset", namespace=name, target=name)
    hub.actors.clear()


def user_may_read(session: Session, user_id: int, resource: Resource) -> bool:
    """Whether an account may read `resource` now, as a read-scoped sign-in would: False once the account
    is gone or disabled. For what is sent to people later (webhook deliveries, notifications)."""
    user = session.get(User, user_id)
    if user is None:
        return False
    try:
        actor = actor_for_user(session, user, scope="read")
    except HubError:  # a disabled account
        return False
    return can(actor, Action.READ, resource)


def actor_for_user(session: Session, user: User, scope: str = "write", grants: tuple[Grant, ...] = ()) -> Actor:
    """Everything authorize() needs about an account, read in three small indexed queries."""
    if user.disabled:
        raise Unauthenticated("This account is disabled", code="AccountDisabled")
    org_roles = session.execute(
        select(Namespace.name_key, OrgMember.role)
        .join(OrgMember, OrgMember.org_id == Namespace.id)
        .where(OrgMember.user_id == user.id)
    ).all()
    repo_roles = session.execute(
        select(RepoCollaborator.repo_id, RepoCollaborator.role).where(RepoCollaborator.user_id == user.id)
    ).all()
    gates = session.scalars(
        select(GateRequest.repo_id).where(GateRequest.user_id == user.id, GateRequest.status == "accepted")
    ).all()
    return Actor(
        user_id=user.id,
        name=user.namespace.name,
        is_admin=user.is_admin,
        scope=scope,
        org_roles={key: role for key, role in org_roles},
        repo_roles={repo_id: role for repo_id, role in repo_roles},
        gate_access=frozenset(gates),
        grants=grants,
    )


def actor_from_user_id(hub: Hub, user_id: int, scope: str = "write") -> Actor:
    with hub.db() as session:
        user = session.get(User, user_id)
        if user is None:
            raise Unauthenticated("The account of this credential no longer exists")
        return actor_for_user(session, user, scope)


def list_user_orgs(hub: Hub, user_id: int) -> list[tuple[str, str]]:
    with hub.db() as session:
        rows = session.execute(
            select(Namespace.name, OrgMember.role)
            .join(OrgMember, OrgMember.org_id == Namespace.id)
            .where(OrgMember.user_id == user_id)
        ).all()
        return [(n, r) for n, r in rows]
