"""What the portal offers around mirrors, beyond the records themselves: whether "New mirror" is offered
to someone (the rule is mirrors.create_mirror's, asked without creating anything), the sources a mirror
creator picks from (their names only: a source's URL and token are the site administrators'), and where
a mirror's upstream repository can be seen in a browser.

A source on the public internet (huggingface.co, another company's hub) is linked; one on a private,
loopback or link-local address, or a single-label or `.internal`/`.local` name, is not: its URL would
only tell visitors about the inside of the network, and their browsers could not open it anyway. The
decision reads the URL alone (no DNS lookup while a page renders)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from sqlalchemy import select

from csghub.core.errors import HubError
from csghub.db.models import MirrorSource
from csghub.services.context import Hub
from csghub.services.mirrors import mirrors
from csghub.services.permissions import Actor

_PRIVATE_SUFFIXES = (".local", ".internal", ".lan", ".home", ".corp", ".localhost")


def may_create_mirrors(hub: Hub, actor: Actor) -> bool:
    """Whether `actor` may create mirrors at all (setting mirror_creators); each one's namespace is checked
    when it is created."""
    if actor.is_anonymous:
        return False
    try:
        mirrors.check_may_create(hub, actor)  # the rule create_mirror applies, asked ahead
    except HubError:
        return False
    return True


def source_names(hub: Hub) -> list[str]:
    """The sources' names, for the "New mirror" form of someone who may create mirrors."""
    with hub.db() as session:
        return list(session.scalars(select(MirrorSource.name).order_by(MirrorSource.name)))


def is_public_url(url: str) -> bool:
    """True when the URL names a host on the public internet, by its spelling alone."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." in host and not host.endswith(_PRIVATE_SUFFIXES) and host != "localhost"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global


def upstream_page(base_url: str, upstream_type: str, upstream_id: str) -> str:
    """The upstream repository's page, laid out as on the Hugging Face Hub (and on this hub)."""
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/", "code": "codes/"}.get(upstream_type, "")
    return f"{base_url.rstrip('/')}/{prefix}{upstream_id}"


def public_upstream_page(hub: Hub, source_name: str, upstream_type: str, upstream_id: str) -> str | None:
    """The page to link to, or None when the source is on a private address (then shown as plain text)."""
    with hub.db() as session:
        base_url = session.scalar(select(MirrorSource.base_url).where(MirrorSource.name == source_name))
    if base_url is None or not is_public_url(base_url):
        return None
    return upstream_page(base_url, upstream_type, upstream_id)
