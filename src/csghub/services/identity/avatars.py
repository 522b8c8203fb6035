"""Avatars: a small uploaded image per user or organization, checked by its bytes and kept in the blob store.

Only PNG, JPEG, WebP and GIF are taken, recognised by their magic bytes (the file's name and the client's
media type are not trusted: an HTML page named avatar.png is refused), and at most MAX_BYTES. SVG is never
taken: it is a document that can carry script. The stored object is the image behind a fixed prefix, so
its id can never be an LFS or Xet object's (a repository's deletion frees only its own objects, and the
avatar route serves nothing else); the hub serves it at /api/avatars/{oid}, whose id changes with the
image, so it is cached for good.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select

from csghub.core.errors import InvalidArgument, NotFound, TooLarge
from csghub.db.models import NamespaceProfile
from csghub.services.context import Hub

MAX_BYTES = 1024 * 1024
# What precedes the image in the stored object (see the module's docstring).
PREFIX = b"csghub-avatar\n"


@dataclass(frozen=True, slots=True)
class StoredAvatar:
    oid: str
    media_type: str


def sniff(head: bytes) -> str:
    """The media type the bytes are, or InvalidArgument naming what is accepted."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    raise InvalidArgument("An avatar must be a PNG, JPEG, WebP or GIF image")


def store(hub: Hub, data: bytes) -> StoredAvatar:
    """Check and keep an image (already bounded by the caller's read); returns where it is kept."""
    if len(data) > MAX_BYTES:
        raise TooLarge(f"An avatar may be at most {MAX_BYTES // 1024} KiB")
    if not data:
        raise InvalidArgument("The avatar file is empty")
    media_type = sniff(data[:16])
    body = PREFIX + data
    oid = hashlib.sha256(body).hexdigest()
    hub.blobs.put(oid, len(body), [body])
    return StoredAvatar(oid, media_type)


def read(hub: Hub, oid: str) -> tuple[str, int, Iterator[bytes]]:
    """An avatar some profile uses now: its media type, size and bytes; NotFound for any other id."""
    with hub.db() as session:
        media_type = session.scalar(
            select(NamespaceProfile.avatar_type).where(NamespaceProfile.avatar_oid == oid).limit(1)
        )
    size = hub.blobs.stat(oid) if media_type else None
    if not media_type or size is None:
        raise NotFound("No such avatar")
    return media_type, size - len(PREFIX), hub.blobs.read(oid, start=len(PREFIX))


def url(oid: str) -> str:
    return f"/api/avatars/{oid}" if oid else ""
