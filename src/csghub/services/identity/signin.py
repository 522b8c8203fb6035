"""Signing in with a name and a password, wherever the password lives: here (argon2) or in LDAP.

Used by the sign-in API and by every door that takes Basic credentials (git over HTTP, LFS). Failed
attempts are throttled per account and per address before any password is checked.
"""

from __future__ import annotations

from sqlalchemy import func, select

from csghub.core.errors import Unauthenticated
from csghub.db.models import Namespace, User
from csghub.services import audit
from csghub.services.context import Hub
from csghub.services.identity import sso, throttle
from csghub.services.identity.accounts import actor_for_user
from csghub.services.identity.passwords import verify_password
from csghub.services.permissions import Actor


def actor_from_password(hub: Hub, name: str, password: str, *, address: str = "") -> Actor:
    """The account's actor if the password is right; Unauthenticated (or RateLimited) otherwise."""
    keys = [throttle.account_key(name)] + ([throttle.address_key(address)] if address else [])
    throttle.check_not_locked(hub, keys)
    actor = _check(hub, name, password, address)
    if actor is None:
        throttle.record_failure(hub, keys)
        audit.record_now(hub, None, "login.failed", namespace=name, target=name, actor_name=name, address=address)
        raise Unauthenticated("Invalid username or password")
    throttle.record_success(hub, name)
    return actor


def _check(hub: Hub, name: str, password: str, address: str) -> Actor | None:
    with hub.db() as session:
        user = session.scalar(select(User).join(Namespace).where(Namespace.name_key == name.lower()))
        if user is None and "@" in name:
            user = session.scalar(select(User).where(func.lower(User.email) == name.lower()).limit(1))
        if user is not None and user.auth_source == "local":
            return actor_for_user(session, user) if verify_password(user.password_hash, password) else None
        ldap_name = user.namespace.name if user is not None else name
        if hub.ldap is None or (user is not None and user.auth_source != "ldap"):
            return None
    from csghub.services.identity.ldap_login import authenticate_ldap  # ldap3 loads only on hubs that use LDAP

    try:
        identity = authenticate_ldap(hub.ldap, ldap_name, password)
    except Unauthenticated:
        return None
    return sso.sign_in_external(hub, identity, address=address)
