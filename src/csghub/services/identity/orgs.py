"""Organizations: profile, members and their roles (read, write, admin), and invitations.

An organization always keeps at least one admin: the last one can neither leave nor be demoted.
Membership changes take effect at once (the credential cache is dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from csghub.core.errors import Conflict, NotFound
from csghub.db.models import Namespace, OrgInvitation, OrgMember, User
from csghub.services import audit
from csghub.services.context import Hub, PersonEvent
from csghub.services.identity.accounts import claim_namespace, user_by_name
from csghub.services.permissions import SITE, Action, Actor, NamespaceResource, authorize, check_role, require_account


@dataclass(frozen=True, slots=True)
class OrgView:
    name: str
    full_name: str
    description: str
    created_at: datetime
    members: int


@dataclass(frozen=True, slots=True)
class MemberView:
    user: str
    full_name: str
    role: str


@dataclass(frozen=True, slots=True)
class InvitationView:
    id: int
    org: str
    user: str
    role: str
    invited_by: str
    created_at: datetime


def _org(session: Session, name: str) -> Namespace:
    ns = session.scalar(select(Namespace).where(Namespace.name_key == name.lower(), Namespace.kind == "org"))
    if ns is None:
        raise NotFound(f"Organization '{name}' does not exist")
    return ns


def _view(session: Session, ns: Namespace) -> OrgView:
    count = session.scalar(select(func.count()).select_from(OrgMember).where(OrgMember.org_id == ns.id)) or 0
    return OrgView(ns.name, ns.full_name, "", ns.created_at, count)


def create_org(hub: Hub, name: str, *, owner: str, full_name: str = "", actor: Actor | None = None) -> OrgView:
    """A new organization whose first admin is `owner` (the signed-in user, or any user for the CLI)."""
    if actor is not None:
        require_account(actor, "create an organization")
    with hub.db() as session:
        user = user_by_name(session, owner)
        ns = claim_namespace(session, name, "org")
        ns.full_name = full_name.strip()[:200]
        session.add(OrgMember(org_id=ns.id, user_id=user.id, role="admin"))
        session.flush()
        audit.record(session, actor, "org.create", namespace=name, target=name, actor_name=owner)
        view = _view(session, ns)
    hub.actors.clear()
    return view


def get_org(hub: Hub, name: str) -> OrgView:
    with hub.db() as session:
        return _view(session, _org(session, name))


def find_org(hub: Hub, name: str) -> OrgView | None:
    with hub.db() as session:
        ns = session.scalar(select(Namespace).where(Namespace.name_key == name.lower(), Namespace.kind == "org"))
        return _view(session, ns) if ns is not None else None


def list_orgs(hub: Hub, actor: Actor, *, search: str = "", limit: int = 100, offset: int = 0) -> list[OrgView]:
    """Every organization, by name (site administrators)."""
    authorize(actor, Action.MANAGE, SITE)
    stmt = select(Namespace).where(Namespace.kind == "org").order_by(Namespace.name_key)
    if search:
        stmt = stmt.where(Namespace.name_key.like(f"%{search.lower()}%"))
    with hub.db() as session:
        return [_view(session, ns) for ns in session.scalars(stmt.limit(max(1, min(limit, 1000))).offset(offset))]


def update_org(hub: Hub, actor: Actor, name: str, *, full_name: str | None = None) -> OrgView:
    authorize(actor, Action.MANAGE, NamespaceResource(name))
    with hub.db() as session:
        ns = _org(session, name)
        if full_name is not None:
            ns.full_name = full_name.strip()[:200]
        audit.record(session, actor, "org.update", namespace=name, target=name)
        return _view(session, ns)


def list_members(hub: Hub, name: str) -> list[MemberView]:
    with hub.db() as session:
        ns = _org(session, name)
        rows = session.execute(
            select(Namespace.name, Namespace.full_name, OrgMember.role)
            .join(OrgMember, OrgMember.user_id == Namespace.id)
            .where(OrgMember.org_id == ns.id)
            .order_by(Namespace.name_key)
        ).all()
        return [MemberView(n, f, r) for n, f, r in rows]


def count_admins(session: Session, org_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(OrgMember).where(OrgMember.org_id == org_id, OrgMember.role == "admin")
        )
        or 0
    )


def set_member_role(hub: Hub, actor: Actor | None, org: str, user_name: str, role: str) -> None:
    """Add a member directly or change a role (org admins; `actor` None is the operator's CLI)."""
    check_role(role)
    if actor is not None:
        authorize(actor, Action.MANAGE, NamespaceResource(org))
    with hub.db() as session:
        ns = _org(session, org)
        user = user_by_name(session, user_name)
        member = session.get(OrgMember, (ns.id, user.id))
        if member is None:
            session.add(OrgMember(org_id=ns.id, user_id=user.id, role=role))
        else:
            if member.role == "admin" and role != "admin" and count_admins(session, ns.id) <= 1:
                raise Conflict(f"'{user_name}' is the last admin of '{org}': make someone else admin first")
            member.role = role
        audit.record(session, actor, "org.member_role", namespace=org, target=user_name, detail={"role": role})
    hub.actors.clear()


def remove_member(hub: Hub, actor: Actor, org: str, user_name: str) -> None:
    """Org admins remove anyone; members may leave on their own."""
    if user_name.lower() != actor.name.lower():
        authorize(actor, Action.MANAGE, NamespaceResource(org))
    with hub.db() as session:
        ns = _org(session, org)
        user = user_by_name(session, user_name)
        member = session.get(OrgMember, (ns.id, user.id))
        if member is None:
            raise NotFound(f"'{user_name}' is not a member of '{org}'")
        if member.role == "admin" and count_admins(session, ns.id) <= 1:
            raise Conflict(f"'{user_name}' is the last admin of '{org}' and cannot leave it")
        session.delete(member)
        audit.record(session, actor, "org.member_remove", namespace=org, target=user_name)
    hub.actors.clear()


def invite(hub: Hub, actor: Actor, org: str, user_name: str, role: str) -> InvitationView:
    check_role(role)
    authorize(actor, Action.MANAGE, NamespaceResource(org))
    with hub.db() as session:
        ns = _org(session, org)
        user = user_by_name(session, user_name)
        if session.get(OrgMember, (ns.id, user.id)) is not None:
            raise Conflict(f"'{user_name}' is already a member of '{org}'")
        row = session.scalar(
            select(OrgInvitation).where(OrgInvitation.org_id == ns.id, OrgInvitation.user_id == user.id)
        )
        if row is None:
            row = OrgInvitation(org_id=ns.id, user_id=user.id, role=role, invited_by=actor.user_id)
            session.add(row)
            hub.tell(session, PersonEvent("invitation", actor.user_id, org_id=ns.id, user_id=user.id))
        else:
            row.role = role
        session.flush()
        audit.record(session, actor, "org.invite", namespace=org, target=user_name, detail={"role": role})
        return InvitationView(row.id, ns.name, user.namespace.name, role, actor.name, row.created_at)


def _invitation_views(session: Session, stmt: object) -> list[InvitationView]:
    views = []
    for inv in session.scalars(stmt):  # type: ignore[call-overload]
        org = session.get(Namespace, inv.org_id)
        user = session.get(User, inv.user_id)
        by = session.get(Namespace, inv.invited_by) if inv.invited_by else None
        assert org is not None and user is not None
        views.append(
            InvitationView(inv.id, org.name, user.namespace.name, inv.role, by.name if by else "", inv.created_at)
        )
    return views


def list_my_invitations(hub: Hub, actor: Actor) -> list[InvitationView]:
    with hub.db() as session:
        return _invitation_views(session, select(OrgInvitation).where(OrgInvitation.user_id == actor.user_id))


def list_org_invitations(hub: Hub, actor: Actor, org: str) -> list[InvitationView]:
    authorize(actor, Action.MANAGE, NamespaceResource(org))
    with hub.db() as session:
        ns = _org(session, org)
        return _invitation_views(session, select(OrgInvitation).where(OrgInvitation.org_id == ns.id))


def answer_invitation(hub: Hub, actor: Actor, invitation_id: int, *, accept: bool) -> None:
    with hub.db() as session:
        inv = session.get(OrgInvitation, invitation_id)
        if inv is None or inv.user_id != actor.user_id:
            raise NotFound(f"Invitation {invitation_id} does not exist")
        org = session.get(Namespace, inv.org_id)
        assert org is not None
        if accept and session.get(OrgMember, (inv.org_id, inv.user_id)) is None:
            session.add(OrgMember(org_id=inv.org_id, user_id=inv.user_id, role=inv.role))
        session.delete(inv)
        audit.record(
            session,
            actor,
            "org.invite_accept" if accept else "org.invite_decline",
            namespace=org.name,
            target=actor.name,
        )
    hub.actors.clear()


def cancel_invitation(hub: Hub, actor: Actor, org: str, invitation_id: int) -> None:
    authorize(actor, Action.MANAGE, NamespaceResource(org))
    with hub.db() as session:
        ns = _org(session, org)
        inv = session.get(OrgInvitation, invitation_id)
        if inv is None or inv.org_id != ns.id:
            raise NotFound(f"Invitation {invitation_id} does not exist")
        session.delete(inv)
        audit.record(session, actor, "org.invite_cancel", namespace=org, target=str(invitation_id))
