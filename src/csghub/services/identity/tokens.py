"""Access tokens: named, shown once, stored as their sha256, with scope, expiry, last use and revocation.

Tokens are 256 random bits, so a plain sha256 is enough to store them and lets a request find its
token in one indexed lookup. Fine-grained tokens name the repositories (by id, so a rename keeps them
working) and namespaces they reach, and the actions (read, write, manage) they allow there.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from csghub.core.errors import InvalidArgument, NotFound, Unauthenticated
from csghub.core.names import RepoId, RepoType
from csghub.db.models import AccessToken, Namespace, Repo, User, utcnow
from csghub.services import audit
from csghub.services.context import Hub
from csghub.services.identity import throttle
from csghub.services.identity.accounts import actor_for_user, sha256_hex, user_by_name
from csghub.services.permissions import GRANT_ACTIONS, Actor, Grant
from csghub.services.read_cache import keeps_reads

TOKEN_PREFIX = "csg_"
SCOPES = ("read", "write", "fine")
MAX_LIFETIME_DAYS = 3650


@dataclass(frozen=True, slots=True)
class GrantSpec:
    """A grant as a user writes it: `model:alice/bert`, `dataset:org/data` or `namespace:org`."""

    target: str
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TokenView:
    id: int
    name: str
    scope: str
    grants: list[dict[str, object]]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > utcnow())


def hash_token(token: str) -> str:
    return sha256_hex(token)


def _grants_of(row: AccessToken) -> tuple[Grant, ...]:
    return tuple(
        Grant(g["kind"], g["id"] if g["kind"] == "repo" else str(g["id"]), frozenset(g["actions"]))
        for g in json.loads(row.grants or "[]")
    )


def _view(row: AccessToken) -> TokenView:
    return TokenView(
        row.id,
        row.name,
        row.scope,
        json.loads(row.grants or "[]"),
        row.created_at,
        row.last_used_at,
        row.expires_at,
        row.revoked_at,
    )


def _resolve_grants(hub: Hub, specs: Sequence[GrantSpec]) -> list[dict[str, object]]:
    if not specs:
        raise InvalidArgument("A fine-grained token needs at least one grant (e.g. 'model:alice/bert' with 'read')")
    resolved: list[dict[str, object]] = []
    with hub.db() as session:
        for spec in specs:
            bad = [a for a in spec.actions if a not in GRANT_ACTIONS]
            if bad or not spec.actions:
                raise InvalidArgument(f"Invalid grant actions {list(spec.actions)}: use {', '.join(GRANT_ACTIONS)}")
            kind, _, name = spec.target.partition(":")
            if kind == "namespace":
                ns = session.scalar(select(Namespace).where(Namespace.name_key == name.lower()))
                if ns is None:
                    raise NotFound(f"Namespace '{name}' does not exist")
                entry: dict[str, object] = {"kind": "namespace", "id": ns.name_key, "name": ns.name}
            elif kind in {t.value for t in RepoType}:
                repo_id = RepoId.parse(name)
                row = session.scalar(
                    select(Repo)
                    .join(Namespace, Repo.namespace_id == Namespace.id)
                    .where(
                        Repo.type == kind,
                        Namespace.name_key == repo_id.namespace.lower(),
                        Repo.name_key == repo_id.name.lower(),
                    )
                )
                if row is None:
                    raise NotFound(f"Repository {kind} {name} does not exist")
                entry = {"kind": "repo", "id": row.id, "name": f"{kind}:{row.full_name}"}
            else:
                raise InvalidArgument(
                    f"Invalid grant target '{spec.target}': use 'model:ns/name', 'dataset:ns/name', "
                    "'space:ns/name', 'code:ns/name' or 'namespace:name'"
                )
            entry["actions"] = sorted(set(spec.actions))
            resolved.append(entry)
    return resolved


def create_token(
    hub: Hub,
    user_name: str,
    *,
    name: str = "default",
    scope: str = "write",
    grants: Sequence[GrantSpec] = (),
    expires_in_days: int | None = None,
    actor: Actor | None = None,
) -> tuple[str, TokenView]:
    """A new token and its description; the token itself is never shown again."""
    if scope not in SCOPES:
        raise InvalidArgument(f"Invalid token scope '{scope}': expected read, write or fine")
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidArgument("A token needs a name of 1 to 100 characters")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_LIFETIME_DAYS:
        raise InvalidArgument(f"Token lifetime must be between 1 and {MAX_LIFETIME_DAYS} days")
    if scope != "fine" and grants:
        raise InvalidArgument("Grants are only for fine-grained tokens (scope 'fine')")
    resolved = _resolve_grants(hub, grants) if scope == "fine" else []
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with hub.db() as session:
        user = user_by_name(session, user_name)
        expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
        row = AccessToken(
            user_id=user.id,
            name=name,
            token_hash=hash_token(token),
            scope=scope,
            grants=json.dumps(resolved),
            expires_at=expires,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            "token.create",
            namespace=user.namespace.name,
            target=name,
            detail={"scope": scope, "grants": [g["name"] for g in resolved]},
        )
        return token, _view(row)


def list_tokens(hub: Hub, actor: Actor) -> list[TokenView]:
    with hub.db() as session:
        rows = session.scalars(
            select(AccessToken).where(AccessToken.user_id == actor.user_id).order_by(AccessToken.id.desc())
        )
        return [_view(r) for r in rows]


def revoke_token(hub: Hub, actor: Actor, token_id: int) -> None:
    with hub.db() as session:
        row = session.get(AccessToken, token_id)
        # Someone else's token looks like a missing one.
        if row is None or row.user_id != actor.user_id:
            raise NotFound(f"Token {token_id} does not exist")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            audit.record(session, actor, "token.revoke", namespace=actor.name, target=row.name)
    hub.actors.clear()


def actor_from_token(hub: Hub, token: str, *, address: str = "") -> tuple[Actor, TokenView]:
    with hub.db() as session:
        row = session.scalar(select(AccessToken).where(AccessToken.token_hash == hash_token(token)))
        now = utcnow()
        usable = row is not None and row.revoked_at is None and (row.expires_at is None or row.expires_at > now)
        if row is not None and usable:
            user = session.get(User, row.user_id)
            assert user is not None
            # Touch at most once a minute: a write per request would serialize reads on SQLite.
            if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
                row.last_used_at = now
                keeps_reads(session)
            return actor_for_user(session, user, row.scope, _grants_of(row)), _view(row)
        reason = "has expired" if row is not None and row.revoked_at is None else "is invalid or was revoked"
    if address:
        throttle.record_failure(hub, [throttle.address_key(address)])
    raise Unauthenticated(f"Invalid credentials in Authorization header: the token {reason}", code="InvalidToken")


def describe_token(hub: Hub, token: str) -> TokenView | None:
    with hub.db() as session:
        row = session.scalar(select(AccessToken).where(AccessToken.token_hash == hash_token(token)))
        return _view(row) if row else None
