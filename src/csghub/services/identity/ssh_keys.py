"""Users' SSH public keys: added, listed and removed by their owner, and looked up at SSH login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncssh
from sqlalchemy import select

from csghub.core.errors import Conflict, InvalidArgument, NotFound, Unauthenticated
from csghub.db.models import SshKey, User, utcnow
from csghub.services import audit
from csghub.services.context import Hub
from csghub.services.identity.accounts import actor_for_user
from csghub.services.permissions import Actor, require_account
from csghub.services.read_cache import keeps_reads

_ALLOWED = {"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"}
MIN_RSA_BITS = 2048


@dataclass(frozen=True, slots=True)
class KeyView:
    id: int
    name: str
    fingerprint: str
    algorithm: str
    created_at: datetime


def _parse(text: str) -> asyncssh.SSHKey:
    text = text.strip()
    if not text or "\n" in text:
        raise InvalidArgument("Paste one public key in OpenSSH format, like 'ssh-ed25519 AAAA... you@host'")
    try:
        key = asyncssh.import_public_key(text)
    except (asyncssh.KeyImportError, ValueError):
        raise InvalidArgument("This is not a valid OpenSSH public key") from None
    algorithm = key.get_algorithm()
    if algorithm not in _ALLOWED:
        raise InvalidArgument(f"Key type {algorithm} is not accepted: use ed25519, ecdsa or rsa")
    if algorithm == "ssh-rsa" and getattr(key.pyca_key, "key_size", 0) < MIN_RSA_BITS:
        raise InvalidArgument(f"RSA keys need at least {MIN_RSA_BITS} bits")
    return key


def fingerprint_of(key: asyncssh.SSHKey) -> str:
    return str(key.get_fingerprint("sha256"))


def _view(row: SshKey) -> KeyView:
    return KeyView(row.id, row.name, row.fingerprint, row.public_key.split()[0], row.created_at)


def add_key(hub: Hub, actor: Actor, name: str, text: str) -> KeyView:
    require_account(actor, "add SSH keys")
    key = _parse(text)
    name = name.strip() or "key"
    if len(name) > 100:
        raise InvalidArgument("Key names are at most 100 characters")
    fingerprint = fingerprint_of(key)
    with hub.db() as session:
        if session.scalar(select(SshKey).where(SshKey.fingerprint == fingerprint)) is not None:
            raise Conflict(f"The key {fingerprint} is already in use")
        row = SshKey(
            user_id=actor.user_id,
            name=name,
            public_key=key.export_public_key("openssh").decode().strip(),
            fingerprint=fingerprint,
        )
        session.add(row)
        session.flush()
        audit.record(
            session, actor, "ssh_key.add", namespace=actor.name, target=name, detail={"fingerprint": fingerprint}
        )
        return _view(row)


def list_keys(hub: Hub, actor: Actor) -> list[KeyView]:
    if actor.is_anonymous:
        raise Unauthenticated("Sign in to see your SSH keys")
    with hub.db() as session:
        return [_view(r) for r in session.scalars(select(SshKey).where(SshKey.user_id == actor.user_id))]


def delete_key(hub: Hub, actor: Actor, key_id: int) -> None:
    require_account(actor, "remove SSH keys")
    with hub.db() as session:
        row = session.get(SshKey, key_id)
        if row is None or row.user_id != actor.user_id:
            raise NotFound(f"SSH key {key_id} does not exist")
        session.delete(row)
        audit.record(
            session,
            actor,
            "ssh_key.remove",
            namespace=actor.name,
            target=row.name,
            detail={"fingerprint": row.fingerprint},
        )


def actor_for_key(hub: Hub, key: asyncssh.SSHKey) -> Actor | None:
    """The user a presented key belongs to, or None."""
    with hub.db() as session:
        row = session.scalar(select(SshKey).where(SshKey.fingerprint == fingerprint_of(key)))
        if row is None:
            return None
        user = session.get(User, row.user_id)
        if user is None or user.disabled:
            return None
        if row.last_used_at is None or (utcnow() - row.last_used_at).total_seconds() > 60:
            row.last_used_at = utcnow()
            keeps_reads(session)
        return actor_for_user(session, user)
