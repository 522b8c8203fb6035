"""A user's webhooks: created, listed, changed, enabled, disabled and deleted by their owner.

Owns the `webhooks` and `webhook_watches` tables. A webhook watches namespaces (a user or an
organization) and repositories its owner may read: naming one the owner cannot read is answered as if
it did not exist. Its target URL passes the outbound rules when saved (and again at every delivery,
services/webhooks/deliveries.py). Its secret is sealed at rest (core/sealing.py) and never shown back:
only the delivery sends it, in `X-Webhook-Secret`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from csghub.core import sealing
from csghub.core.errors import Conflict, InvalidArgument, NotFound
from csghub.core.names import RepoId, RepoType
from csghub.db.models import Namespace, Webhook, WebhookWatch, utcnow
from csghub.net.guard import AddressRules, check_url
from csghub.services import audit
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, NamespaceResource, authorize, require_account
from csghub.services.repositories.repos import get_repo

DOMAINS = ("repo", "discussion")
NAMESPACE_KINDS = ("user", "org")
REPO_KINDS = ("model", "dataset", "space")
MAX_WATCHED = 100
MAX_URL = 2048
MAX_SECRET = 256
_PURPOSE = b"csghub webhook secret v1"


@dataclass(frozen=True, slots=True)
class Watched:
    kind: str  # user | org | model | dataset | space
    name: str


@dataclass(frozen=True, slots=True)
class WebhookView:
    id: int
    url: str
    watched: tuple[Watched, ...]
    domains: tuple[str, ...]
    has_secret: bool
    disabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """What a create or an update asks for; None keeps the current value (an update), and an empty
    `watched` list does too (huggingface_hub's update_webhook sends one when none is given)."""

    url: str | None = None
    watched: tuple[Watched, ...] | None = None
    domains: tuple[str, ...] | None = None
    secret: str | None = None  # "" removes it


def outbound_rules(hub: Hub) -> AddressRules:
    settings = hub.settings
    return AddressRules(settings.outbound_allow_hosts, settings.outbound_deny_hosts, settings.outbound_allow_private)


def watch_key(kind: str, name: str) -> str:
    """How an event finds its webhooks: "ns:<namespace>" or "<type>:<namespace>/<name>", case-folded."""
    return f"ns:{name.lower()}" if kind in NAMESPACE_KINDS else f"{kind}:{name.lower()}"


def secret_key(hub: Hub) -> bytes:
    return sealing.derive_key(hub.settings.secret_key, _PURPOSE)


def secret_context(webhook_id: int) -> str:
    """Binds a sealed secret to its webhook: copied into another row, it does not open."""
    return f"webhook:{webhook_id}"


def _may_manage(actor: Actor) -> None:
    # A webhook is part of its owner's settings: the same right as changing them (a write token, or a
    # fine-grained one with "manage" on the owner's own namespace).
    require_account(actor, "manage webhooks")
    authorize(actor, Action.MANAGE, NamespaceResource(actor.name))


def _check_url(hub: Hub, url: str) -> str:
    url = url.strip()
    if not url or len(url) > MAX_URL:
        raise InvalidArgument(f"A webhook needs a URL of at most {MAX_URL} characters")
    check_url(url, outbound_rules(hub))  # OutboundRefused (400) names why
    return url


def _check_domains(domains: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [d for d in domains if d not in DOMAINS]
    if unknown or not domains:
        raise InvalidArgument(f"Webhook domains must be among {', '.join(DOMAINS)}, not {unknown or 'none'}")
    return tuple(d for d in DOMAINS if d in domains)


def _check_watched(hub: Hub, actor: Actor, watched: tuple[Watched, ...]) -> tuple[Watched, ...]:
    """Each item exists and its owner may read it (else NotFound, as for anything unreadable)."""
    if not watched or len(watched) > MAX_WATCHED:
        raise InvalidArgument(f"A webhook watches 1 to {MAX_WATCHED} users, organizations or repositories")
    checked: list[Watched] = []
    for item in watched:
        if item.kind in NAMESPACE_KINDS:
            with hub.db() as session:
                ns = session.scalar(select(Namespace).where(Namespace.name_key == item.name.lower()))
                if ns is None or ns.kind != item.kind:
                    raise NotFound(f"No {item.kind} named '{item.name[:100]}'")
                checked.append(Watched(item.kind, ns.name))
        elif item.kind in REPO_KINDS:
            view = get_repo(hub, actor, RepoType(item.kind), RepoId.parse(item.name))
            checked.append(Watched(item.kind, view.full_name))
        else:
            kinds = ", ".join(NAMESPACE_KINDS + REPO_KINDS)
            raise InvalidArgument(f"A watched item's type must be one of {kinds}, not '{item.kind[:40]}'")
    return tuple(dict.fromkeys(checked))


def _check_secret(secret: str) -> str:
    if len(secret) > MAX_SECRET or any(ch in secret for ch in "\r\n\0"):
        raise InvalidArgument(f"A webhook secret is one line of at most {MAX_SECRET} characters")
    return secret


def _view(session: Session, row: Webhook) -> WebhookView:
    watches = session.scalars(select(WebhookWatch).where(WebhookWatch.webhook_id == row.id).order_by(WebhookWatch.id))
    return WebhookView(
        id=row.id,
        url=row.url,
        watched=tuple(Watched(w.kind, w.name) for w in watches),
        domains=tuple(json.loads(row.domains)),
        has_secret=bool(row.secret_sealed),
        disabled=row.disabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _own_row(session: Session, actor: Actor, webhook_id: int) -> Webhook:
    row = session.get(Webhook, webhook_id)
    if row is None or row.owner_id != actor.user_id:
        raise NotFound(f"Webhook {webhook_id} not found")
    return row


def _store(hub: Hub, session: Session, row: Webhook, spec: WebhookSpec) -> None:
    if spec.url is not None:
        row.url = spec.url
    if spec.domains is not None:
        row.domains = json.dumps(list(spec.domains))
    if spec.secret is not None:
        row.secret_sealed = sealing.seal(secret_key(hub), spec.secret, secret_context(row.id)) if spec.secret else ""
    if spec.watched:
        session.execute(delete(WebhookWatch).where(WebhookWatch.webhook_id == row.id))
        for item in spec.watched:
            key = watch_key(item.kind, item.name)
            session.add(WebhookWatch(webhook_id=row.id, kind=item.kind, name=item.name, key=key))
    row.updated_at = utcnow()
    session.flush()


def _checked(hub: Hub, actor: Actor, spec: WebhookSpec) -> WebhookSpec:
    return WebhookSpec(
        url=None if spec.url is None else _check_url(hub, spec.url),
        watched=_check_watched(hub, actor, spec.watched) if spec.watched else None,
        domains=None if spec.domains is None else _check_domains(spec.domains),
        secret=None if spec.secret is None else _check_secret(spec.secret),
    )


def create_webhook(hub: Hub, actor: Actor, spec: WebhookSpec) -> WebhookView:
    _may_manage(actor)
    if not spec.url:
        raise InvalidArgument("A webhook needs a URL (this hub runs no jobs from webhooks)")
    if not spec.watched:
        raise InvalidArgument("A webhook must watch at least one user, organization or repository")
    spec = _checked(hub, actor, WebhookSpec(spec.url, spec.watched, spec.domains or DOMAINS, spec.secret))
    with hub.db() as session:
        count = session.scalar(select(func.count()).where(Webhook.owner_id == actor.user_id)) or 0
        if count >= hub.settings.webhook_max_per_user:
            raise Conflict(f"You have {count} webhooks already, the most this hub allows; delete one first")
        row = Webhook(owner_id=actor.user_id, url=spec.url or "")
        session.add(row)
        session.flush()  # the id, which the sealed secret is bound to
        _store(hub, session, row, spec)
        audit.record(session, actor, "webhook.create", namespace=actor.name, target=f"webhook:{row.id}")
        return _view(session, row)


def update_webhook(hub: Hub, actor: Actor, webhook_id: int, spec: WebhookSpec) -> WebhookView:
    _may_manage(actor)
    with hub.db() as session:
        _own_row(session, actor, webhook_id)  # someone else's is not found before its fields are judged
    spec = _checked(hub, actor, spec)
    with hub.db() as session:
        row = _own_row(session, actor, webhook_id)
        _store(hub, session, row, spec)
        audit.record(session, actor, "webhook.update", namespace=actor.name, target=f"webhook:{row.id}")
        return _view(session, row)


def set_disabled(hub: Hub, actor: Actor, webhook_id: int, disabled: bool) -> WebhookView:
    _may_manage(actor)
    with hub.db() as session:
        row = _own_row(session, actor, webhook_id)
        row.disabled = disabled
        row.updated_at = utcnow()
        what = "webhook.disable" if disabled else "webhook.enable"
        audit.record(session, actor, what, namespace=actor.name, target=f"webhook:{row.id}")
        return _view(session, row)


def delete_webhook(hub: Hub, actor: Actor, webhook_id: int) -> None:
    _may_manage(actor)
    with hub.db() as session:
        row = _own_row(session, actor, webhook_id)
        session.delete(row)
        audit.record(session, actor, "webhook.delete", namespace=actor.name, target=f"webhook:{webhook_id}")


def get_webhook(hub: Hub, actor: Actor, webhook_id: int) -> WebhookView:
    _may_manage(actor)
    with hub.db() as session:
        return _view(session, _own_row(session, actor, webhook_id))


def list_webhooks(hub: Hub, actor: Actor) -> list[WebhookView]:
    _may_manage(actor)
    with hub.db() as session:
        rows = session.scalars(select(Webhook).where(Webhook.owner_id == actor.user_id).order_by(Webhook.id))
        return [_view(session, row) for row in rows]


def parse_watched(items: Any) -> tuple[Watched, ...]:
    """Hugging Face's `watched` list ([{"type": ..., "name": ...}]) from a request body."""
    if not isinstance(items, list):
        raise InvalidArgument("'watched' must be a list of {type, name} objects")
    parsed: list[Watched] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str) or not isinstance(item.get("name"), str):
            raise InvalidArgument("Each watched item is an object with a string 'type' and 'name'")
        parsed.append(Watched(item["type"], item["name"].strip()))
    return tuple(parsed)
