"""Mirror sources: the other hubs this one copies from, managed by site administrators.

A source is a name, the base URL of a Hugging Face-compatible API and an optional token. The URL passes
the outbound rules when it is saved and again at every connection (net/client.py). The token is sealed
at rest (core/sealing.py) and leaves this module only inside an `Upstream`'s client: no view, page, log
or error carries it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from csghub.config import Settings
from csghub.core import sealing
from csghub.core.errors import Conflict, InvalidArgument, NotFound
from csghub.db.models import Mirror, MirrorSource, utcnow
from csghub.net.guard import AddressRules, check_url
from csghub.services import audit
from csghub.services.context import Hub
from csghub.services.mirrors.upstream import Upstream
from csghub.services.permissions import SITE, Action, Actor, authorize

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_TOKEN_RE = re.compile(r"[\x21-\x7e]{1,4096}")  # visible ASCII: it goes into an HTTP header as it is
_PURPOSE = b"csghub mirror source tokens v1"
PROXY_ACTIONS = ("allow", "deny", "cache")
MAX_PROXY_RULES = 100
MAX_CONCURRENCY = 64


@dataclass(frozen=True, slots=True)
class SourceSpec:
    name: str
    base_url: str
    token: str | None = None
    use_git: bool = True
    max_concurrency: int = 2
    bandwidth_bytes_per_s: int = 0  # 0 = unlimited
    upstream_proxy: bool = False
    proxy_rules: tuple[dict[str, str], ...] = ()  # {"pattern", "action": allow|deny|cache}, first match wins
    cache_max_bytes: int = 0  # 0 = unbounded
    object_max_bytes: int = 0  # 0 = unbounded

    def __repr__(self) -> str:  # never the token, in a log line or a traceback
        return f"SourceSpec(name={self.name!r}, base_url={self.base_url!r}, has_token={bool(self.token)})"


@dataclass(frozen=True, slots=True)
class SourceView:
    id: int
    name: str
    base_url: str
    has_token: bool
    use_git: bool
    max_concurrency: int
    bandwidth_bytes_per_s: int
    upstream_proxy: bool
    proxy_rules: tuple[dict[str, str], ...]
    cache_max_bytes: int
    object_max_bytes: int
    mirrors: int  # mirrored repositories that use it
    created_at: datetime
    updated_at: datetime


# What an update may change: every field of a SourceSpec (token None = keep it, "" = remove it).
UPDATABLE = frozenset(f.name for f in fields(SourceSpec))


def outbound_rules(settings: Settings) -> AddressRules:
    return AddressRules(settings.outbound_allow_hosts, settings.outbound_deny_hosts, settings.outbound_allow_private)


def _view(row: MirrorSource, mirrors: int) -> SourceView:
    return SourceView(
        id=row.id,
        name=row.name,
        base_url=row.base_url,
        has_token=bool(row.token_sealed),
        use_git=row.use_git,
        max_concurrency=row.max_concurrency,
        bandwidth_bytes_per_s=row.bandwidth_bytes_per_s,
        upstream_proxy=row.upstream_proxy,
        proxy_rules=tuple(json.loads(row.proxy_rules or "[]")),
        cache_max_bytes=row.cache_max_bytes,
        object_max_bytes=row.object_max_bytes,
        mirrors=mirrors,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _mirror_count(session: Session, source_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Mirror).where(Mirror.source_id == source_id)) or 0


def _row(session: Session, id_or_name: str | int) -> MirrorSource:
    text = str(id_or_name)
    row = session.scalar(select(MirrorSource).where(MirrorSource.name == text))
    if row is None and text.isascii() and text.isdigit() and len(text) <= 18:  # an id SQL's BIGINT holds
        row = session.get(MirrorSource, int(text))
    if row is None:
        raise NotFound(f"Mirror source '{text[:100]}' does not exist", code="MirrorSourceNotFound")
    return row


def _check_spec(hub: Hub, spec: SourceSpec, *, resolve: bool = True) -> SourceSpec:
    """The spec with its URL normalized, or InvalidArgument naming the first bad field."""
    if not isinstance(spec.name, str) or not _NAME_RE.fullmatch(spec.name) or spec.name.isdigit():
        raise InvalidArgument(
            f"Invalid source name '{str(spec.name)[:80]}': 1-64 letters, digits, '-', '_' or '.', starting with "
            "a letter or digit, not only digits"
        )
    base_url = spec.base_url.strip().rstrip("/") if isinstance(spec.base_url, str) else ""
    parts = urlsplit(base_url)
    if not base_url or len(base_url) > 2048 or parts.query or parts.fragment:
        raise InvalidArgument("base_url must be an http(s) URL of at most 2048 characters, without query or fragment")
    if resolve:  # an unchanged URL is not looked up again: it is checked at each connection anyway
        check_url(base_url, outbound_rules(hub.settings))
    if spec.token is not None and spec.token != "" and not _TOKEN_RE.fullmatch(spec.token):
        raise InvalidArgument("A token is 1-4096 visible ASCII characters, without spaces or line breaks")
    if not 1 <= spec.max_concurrency <= MAX_CONCURRENCY:
        raise InvalidArgument(f"max_concurrency must be between 1 and {MAX_CONCURRENCY}")
    for key in ("bandwidth_bytes_per_s", "cache_max_bytes", "object_max_bytes"):
        if not 0 <= getattr(spec, key) < 2**62:
            raise InvalidArgument(f"{key} must be 0 (unlimited) or a positive number of bytes")
    _check_proxy_rules(spec.proxy_rules)
    return SourceSpec(**{**{f.name: getattr(spec, f.name) for f in fields(SourceSpec)}, "base_url": base_url})


def _check_proxy_rules(rules: Any) -> None:
    if not isinstance(rules, list | tuple) or len(rules) > MAX_PROXY_RULES:
        raise InvalidArgument(f"proxy_rules is a list of at most {MAX_PROXY_RULES} rules")
    for rule in rules:
        if (
            not isinstance(rule, dict)
            or set(rule) != {"pattern", "action"}
            or not isinstance(rule["pattern"], str)
            or not 0 < len(rule["pattern"]) <= 256
            or rule["action"] not in PROXY_ACTIONS
        ):
            raise InvalidArgument(
                'Each proxy rule is {"pattern": "type/namespace/name glob", "action": "allow" | "deny" | "cache"}'
            )


def _store(hub: Hub, row: MirrorSource, spec: SourceSpec, *, keep_token: bool) -> None:
    row.name = spec.name
    row.base_url = spec.base_url
    row.use_git = spec.use_git
    row.max_concurrency = spec.max_concurrency
    row.bandwidth_bytes_per_s = spec.bandwidth_bytes_per_s
    row.upstream_proxy = spec.upstream_proxy
    row.proxy_rules = json.dumps(list(spec.proxy_rules))
    row.cache_max_bytes = spec.cache_max_bytes
    row.object_max_bytes = spec.object_max_bytes
    row.updated_at = utcnow()
    if not keep_token:
        row.token_sealed = sealing.seal(_key(hub), spec.token, _context(row.id)) if spec.token else ""


def _key(hub: Hub) -> bytes:
    return sealing.derive_key(hub.settings.secret_key, _PURPOSE)


def _context(source_id: int) -> str:
    """Binds a sealed token to its source: copied into another row, it does not open."""
    return f"mirror-source:{source_id}:token"


def create_source(hub: Hub, actor: Actor, spec: SourceSpec) -> SourceView:
    authorize(actor, Action.MANAGE, SITE)
    spec = _check_spec(hub, spec)
    try:
        with hub.db() as session:
            row = MirrorSource(name=spec.name, base_url=spec.base_url)
            session.add(row)
            session.flush()  # the id, which the sealed token is bound to
            _store(hub, row, spec, keep_token=False)
            audit.record(session, actor, "mirror_source.create", target=spec.name, detail={"base_url": spec.base_url})
            session.flush()
            return _view(row, 0)
    except IntegrityError:
        raise Conflict(f"A mirror source named '{spec.name}' already exists") from None


def update_source(hub: Hub, actor: Actor, id_or_name: str | int, changes: dict[str, Any]) -> SourceView:
    """Change some fields (names as SourceSpec's); `token` None or absent keeps it, "" removes it."""
    authorize(actor, Action.MANAGE, SITE)
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise InvalidArgument(f"Unknown field(s) for a mirror source: {', '.join(sorted(unknown))[:200]}")
    try:
        with hub.db() as session:
            row = _row(session, id_or_name)
            current = {
                f.name: getattr(row, f.name) for f in fields(SourceSpec) if f.name not in ("token", "proxy_rules")
            }
            current["proxy_rules"] = tuple(json.loads(row.proxy_rules or "[]"))
            token = changes.get("token")
            moved = str(changes.get("base_url", row.base_url)).strip().rstrip("/") != row.base_url
            spec = _check_spec(hub, SourceSpec(**{**current, **changes, "token": token}), resolve=moved)
            _store(hub, row, spec, keep_token=token is None)
            audit.record(session, actor, "mirror_source.update", target=row.name, detail={"fields": sorted(changes)})
            session.flush()
            return _view(row, _mirror_count(session, row.id))
    except IntegrityError:
        raise Conflict(f"A mirror source named '{changes.get('name')}' already exists") from None


def delete_source(hub: Hub, actor: Actor, id_or_name: str | int) -> None:
    authorize(actor, Action.MANAGE, SITE)
    with hub.db() as session:
        row = _row(session, id_or_name)
        used = _mirror_count(session, row.id)
        if used:
            raise Conflict(f"Mirror source '{row.name}' is used by {used} mirror(s); delete them first")
        audit.record(session, actor, "mirror_source.delete", target=row.name)
        session.delete(row)


def list_sources(hub: Hub, actor: Actor) -> list[SourceView]:
    authorize(actor, Action.MANAGE, SITE)
    with hub.db() as session:
        counts = dict(session.execute(select(Mirror.source_id, func.count()).group_by(Mirror.source_id)).all())
        rows = session.scalars(select(MirrorSource).order_by(MirrorSource.name)).all()
        return [_view(row, counts.get(row.id, 0)) for row in rows]


def get_source(hub: Hub, actor: Actor, id_or_name: str | int) -> SourceView:
    authorize(actor, Action.MANAGE, SITE)
    with hub.db() as session:
        row = _row(session, id_or_name)
        return _view(row, _mirror_count(session, row.id))


def find_source(hub: Hub, id_or_name: str | int) -> SourceView | None:
    """For the mirroring services themselves (a mirror names its source; no actor to check here)."""
    with hub.db() as session:
        try:
            row = _row(session, id_or_name)
        except NotFound:
            return None
        return _view(row, _mirror_count(session, row.id))


def upstream(hub: Hub, source_id: int, *, timeout: float = 60.0) -> Upstream:
    """An authenticated client of the source's API, every connection checked against the outbound rules.
    The caller closes it (it is a context manager)."""
    with hub.db() as session:
        row = session.get(MirrorSource, source_id)
        if row is None:
            raise NotFound(f"Mirror source #{source_id} does not exist", code="MirrorSourceNotFound")
        token = sealing.unseal(_key(hub), row.token_sealed, _context(row.id)) if row.token_sealed else None
        if row.token_sealed and token is None:
            # The hub's secret key changed: going on anonymously would turn every private repo into a 404.
            raise Conflict(f"Mirror source '{row.name}': its token no longer decrypts; set it again")
        base_url, name = row.base_url, row.name
    return Upstream(base_url, outbound_rules(hub.settings), token=token, name=name, timeout=timeout)


def source_token(hub: Hub, source_id: int) -> str | None:
    """The source's token in clear, for the git fetches of the mirroring services (passed to git in its
    environment only); None when the source has none."""
    with hub.db() as session:
        row = session.get(MirrorSource, source_id)
        if row is None:
            raise NotFound(f"Mirror source #{source_id} does not exist", code="MirrorSourceNotFound")
        if not row.token_sealed:
            return None
        token = sealing.unseal(_key(hub), row.token_sealed, _context(row.id))
        if token is None:
            raise Conflict(f"Mirror source '{row.name}': its token no longer decrypts; set it again")
        return token
