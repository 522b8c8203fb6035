"""Accounts of people who sign in through LDAP or OpenID Connect: created on first sign-in, kept up
to date (email, name) at every sign-in, and placed in organizations by the provider's groups.

A provider never takes over an account it did not create: a name already used by a local account,
or by someone else at the provider, is refused.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.config import parse_group_map
from csghub.core.errors import HubError, PermissionDenied, Unauthenticated
from csghub.core.names import validate_namespace
from csghub.db.models import Namespace, OrgMember, User
from csghub.services import audit
from csghub.services.context import Hub
from csghub.services.identity.accounts import actor_for_user, email_taken, insert_user
from csghub.services.identity.external_identity import ExternalIdentity
from csghub.services.identity.orgs import count_admins
from csghub.services.permissions import Actor

log = logging.getLogger(__name__)
_RANK = {"read": 1, "write": 2, "admin": 3}


def sign_in_external(hub: Hub, identity: ExternalIdentity, *, address: str = "") -> Actor:
    """The actor for a person the provider vouched for, creating or updating their account."""
    try:
        validate_namespace(identity.username)
    except HubError:
        raise Unauthenticated(
            f"The sign-in provider's user name {identity.username!r} cannot be used as a CSGHub name"
        ) from None
    external_id = f"{identity.source}:{identity.subject or identity.username}"
    with hub.db() as session:
        user = session.scalar(select(User).where(User.auth_source == identity.source, User.external_id == external_id))
        if user is None:
            user = _claim_name(session, identity, external_id, address)
        # An address another account already uses stays with that account.
        if identity.email and not email_taken(session, identity.email, other_than=user.id):
            user.email = identity.email
        if identity.full_name:
            user.namespace.full_name = identity.full_name[:200]
        _sync_groups(hub, session, user, identity.groups)
        session.flush()
        actor = actor_for_user(session, user)
    hub.actors.clear()
    return actor


def _claim_name(session: Session, identity: ExternalIdentity, external_id: str, address: str) -> User:
    taken = session.scalar(select(User).join(Namespace).where(Namespace.name_key == identity.username.lower()))
    if taken is not None:
        raise PermissionDenied(
            f"The name '{identity.username}' already belongs to another account on this hub; ask an administrator"
        )
    if session.scalar(select(Namespace).where(Namespace.name_key == identity.username.lower())) is not None:
        raise PermissionDenied(f"The name '{identity.username}' is an organization on this hub; ask an administrator")
    user = insert_user(
        session,
        identity.username,
        email="" if email_taken(session, identity.email) else identity.email,
        password="",
        is_admin=False,
        auth_source=identity.source,
        full_name=identity.full_name[:200],
        external_id=external_id,
    )
    audit.record(
        session,
        None,
        "user.create",
        namespace=user.namespace.name,
        target=user.namespace.name,
        actor_name=identity.source,
        address=address,
        detail={"source": identity.source},
    )
    return user


def _sync_groups(hub: Hub, session: Session, user: User, groups: tuple[str, ...]) -> None:
    """Memberships in the mapped organizations follow the groups; other memberships are left alone."""
    mapping = parse_group_map(hub.settings.sso_group_map)
    wanted: dict[str, str] = {}
    managed: set[str] = set()
    for group, targets in mapping.items():
        for org, role in targets:
            managed.add(org.lower())
            if group in groups and _RANK[role] > _RANK.get(wanted.get(org.lower(), ""), 0):
                wanted[org.lower()] = role
    for org_key in sorted(managed):
        org = session.scalar(select(Namespace).where(Namespace.name_key == org_key, Namespace.kind == "org"))
        if org is None:
            log.warning("sso_group_map names organization %r, which does not exist", org_key)
            continue
        member = session.get(OrgMember, (org.id, user.id))
        target = wanted.get(org_key)
        if member is not None and member.role == "admin" and target != "admin" and count_admins(session, org.id) <= 1:
            continue  # an organization keeps its last admin
        if target and (member is None or member.role != target):
            if member is None:
                session.add(OrgMember(org_id=org.id, user_id=user.id, role=target))
            else:
                member.role = target
            audit.record(
                session,
                None,
                "org.member_role",
                namespace=org.name,
                target=user.namespace.name,
                actor_name="sso",
                detail={"role": target},
            )
        elif target is None and member is not None:
            session.delete(member)
            audit.record(
                session, None, "org.member_remove", namespace=org.name, target=user.namespace.name, actor_name="sso"
            )
