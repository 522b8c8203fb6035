"""What a user or an organization says about itself: full name, bio, links and avatar.

Owns the `namespace_profiles` table (the full name stays on `namespaces`). A user edits their own, an
organization's admins edit its; site admins may edit any (authorize's MANAGE on the namespace). The bio is
plain text or markdown (the portal renders it sanitised), bounded; links are http(s) only, one per kind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.core.errors import InvalidArgument, NotFound
from csghub.db.models import Namespace, NamespaceProfile, utcnow
from csghub.services import audit
from csghub.services.context import Hub
from csghub.services.identity import avatars
from csghub.services.permissions import Action, Actor, NamespaceResource, authorize

LINK_KINDS = ("homepage", "github", "twitter", "linkedin")
MAX_BIO = 2000
MAX_LINK = 300
MAX_FULL_NAME = 200


@dataclass(frozen=True, slots=True)
class ProfileDetails:
    name: str
    kind: str  # "user" | "org"
    full_name: str
    bio: str = ""
    links: dict[str, str] = field(default_factory=dict)
    avatar_url: str = ""


def check_link(kind: str, value: str) -> str:
    """An absolute http(s) URL with a host, or "" to clear; anything else is InvalidArgument."""
    value = value.strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if len(value) > MAX_LINK or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(
            f"The {kind} link must be an http:// or https:// address of at most {MAX_LINK} characters"
        )
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise InvalidArgument(f"The {kind} link must not contain spaces")
    return value


def _namespace(session: Session, name: str) -> Namespace:
    found = session.scalar(select(Namespace).where(Namespace.name_key == name.lower()))
    if found is None:
        raise NotFound(f"'{name}' does not exist")
    return found


def _details(ns: Namespace, row: NamespaceProfile | None) -> ProfileDetails:
    if row is None:
        return ProfileDetails(ns.name, ns.kind, ns.full_name)
    links = {k: v for k, v in json.loads(row.links or "{}").items() if k in LINK_KINDS and v}
    return ProfileDetails(ns.name, ns.kind, ns.full_name, row.bio, links, avatars.url(row.avatar_oid))


def get_details(hub: Hub, name: str) -> ProfileDetails:
    """Anyone may read what a profile says about itself (it is shown on its public page)."""
    with hub.db() as session:
        ns = _namespace(session, name)
        return _details(ns, session.get(NamespaceProfile, ns.id))


def _editable(session: Session, actor: Actor, name: str) -> tuple[Namespace, NamespaceProfile]:
    ns = _namespace(session, name)
    authorize(actor, Action.MANAGE, NamespaceResource(ns.name))
    row = session.get(NamespaceProfile, ns.id)
    if row is None:
        row = NamespaceProfile(namespace_id=ns.id, bio="", links="{}", avatar_oid="", avatar_type="")
        session.add(row)
    return ns, row


def update_details(
    hub: Hub,
    actor: Actor,
    name: str,
    *,
    full_name: str | None = None,
    bio: str | None = None,
    links: dict[str, str] | None = None,
) -> ProfileDetails:
    """Change what is given (None leaves a field as it is); `links` replaces all links at once."""
    if full_name is not None and len(full_name.strip()) > MAX_FULL_NAME:
        raise InvalidArgument(f"A full name may have at most {MAX_FULL_NAME} characters")
    if bio is not None and len(bio) > MAX_BIO:
        raise InvalidArgument(f"A bio may have at most {MAX_BIO} characters")
    unknown = sorted(set(links or {}) - set(LINK_KINDS))
    if unknown:
        raise InvalidArgument(f"Unknown link '{unknown[0]}': expected {', '.join(LINK_KINDS)}")
    checked = {k: check_link(k, v) for k, v in (links or {}).items()}
    with hub.db() as session:
        ns, row = _editable(session, actor, name)
        if full_name is not None:
            ns.full_name = full_name.strip()
        if bio is not None:
            row.bio = bio.strip()
        if links is not None:
            row.links = json.dumps({k: v for k, v in checked.items() if v}, sort_keys=True)
        row.updated_at = utcnow()
        audit.record(session, actor, "profile.update", namespace=ns.name, target=ns.name)
        session.flush()
        return _details(ns, row)


def set_avatar(hub: Hub, actor: Actor, name: str, data: bytes | None) -> ProfileDetails:
    """Take a new avatar (checked and stored first), or remove it with None."""
    with hub.db() as session:
        _editable(session, actor, name)  # refuse before storing anything
    stored = avatars.store(hub, data) if data is not None else None
    with hub.db() as session:
        ns, row = _editable(session, actor, name)
        row.avatar_oid = stored.oid if stored else ""
        row.avatar_type = stored.media_type if stored else ""
        row.updated_at = utcnow()
        audit.record(session, actor, "profile.avatar", namespace=ns.name, target=ns.name)
        session.flush()
        return _details(ns, row)
