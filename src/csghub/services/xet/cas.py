"""The Xet CAS as clients see it: short-lived tokens, xorb and shard uploads, reconstructions, and
files uploaded through Xet becoming LFS objects when a commit names them by sha256.

Tokens are self-contained (HMAC-signed claims: scope, repository, user, expiry) and issued only after
authorize(); every CAS call checks one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from csghub.core.errors import PermissionDenied, Unauthenticated
from csghub.core.signing import check_signature, make_token, read_token, signed_query
from csghub.db.models import LfsObject, RepoLfsObject, XetRepoFile, XetXorb
from csghub.git.lfs import LfsPointer
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize
from csghub.services.repositories.repos import RepoView, get_repo_by_id
from csghub.services.xet import store as xet_store
from csghub.services.xet.store import XetObjectNotFound
from csghub.xet.reconstructions import TermSource, plan_reconstruction
from csghub.xet.shards import MAX_SHARD_BYTES as MAX_SHARD_BYTES  # the transport refuses bigger bodies early

TOKEN_TTL = 3600


@dataclass(frozen=True, slots=True)
class XetToken:
    scope: str
    repo_id: int
    expires_at: int


def store_tag(hub: Hub) -> str:
    """Names this hub's store in the CAS URL clients are given. hf_xet keeps, per CAS URL, a cache of what
    that CAS already holds and skips uploading it: a hub set up again at an earlier hub's address (a new
    data folder, so a new secret key) must be a new URL, or its clients would skip xorbs it never had."""
    return hashlib.sha256(b"csghub-xet-store\0" + hub.settings.secret_key.encode()).hexdigest()[:16]


def issue_token(hub: Hub, actor: Actor, repo: RepoView, scope: str) -> tuple[str, int]:
    authorize(actor, Action.WRITE if scope == "write" else Action.DOWNLOAD, repo.resource)
    expires_at = int(time.time()) + TOKEN_TTL
    claims = {"kind": "xet", "scope": scope, "repo": repo.id, "user": actor.user_id or 0}
    return make_token(hub.settings.secret_key, claims, expires_at=expires_at), expires_at


def check_token(hub: Hub, token: str | None, *, write: bool) -> XetToken:
    claims = read_token(hub.settings.secret_key, token) if token else None
    if claims is None or claims.get("kind") != "xet":
        raise Unauthenticated("Invalid or expired Xet token; ask the hub for a new one")
    if write and claims.get("scope") != "write":
        raise PermissionDenied("This Xet token is read-only")
    grant = XetToken(str(claims["scope"]), int(str(claims["repo"])), int(str(claims["exp"])))
    get_repo_by_id(hub, grant.repo_id)  # a token outlives nothing: its repository must still exist
    return grant


def upload_xorb(hub: Hub, token: str | None, xorb_hash: str, path: Path) -> bool:
    check_token(hub, token, write=True)
    return xet_store.store_xorb_file(hub, xorb_hash, path)


def upload_shard(hub: Hub, token: str | None, data: bytes) -> int:
    """Register a shard's files and remember that this repository uploaded them."""
    grant = check_token(hub, token, write=True)
    files = xet_store.register_shard(hub, data)
    with hub.db() as session:
        # This upload's own claim: another uploader's (stored with the file) may be false.
        for file in files:
            if session.get(XetRepoFile, (grant.repo_id, file.sha256, file.hash)) is None:
                session.add(XetRepoFile(repo_id=grant.repo_id, sha256=file.sha256, file_hash=file.hash))
    return 1


def _readable(hub: Hub, grant: XetToken, name: str) -> bool:
    """A file is served to a repository's token if the repository uploaded or committed it."""
    with hub.db() as session:
        uploaded = session.scalar(
            select(XetRepoFile.sha256).where(XetRepoFile.repo_id == grant.repo_id, XetRepoFile.file_hash == name)
        )
        committed = session.scalar(
            select(LfsObject.oid)
            .join(RepoLfsObject, RepoLfsObject.oid == LfsObject.oid)
            .where(RepoLfsObject.repo_id == grant.repo_id, LfsObject.xet_hash == name)
        )
    return uploaded is not None or committed is not None


def reconstruction(
    hub: Hub, token: str | None, name: str, byte_range: tuple[int, int] | None, base_url: str
) -> dict[str, Any]:
    """The V1 answer (§9.2): the terms covering the range and a signed URL per merged xorb range."""
    grant = check_token(hub, token, write=False)
    if not _readable(hub, grant, name):
        raise XetObjectNotFound(f"Xet file {name} does not exist")
    stored = xet_store.get_file(hub, name)
    start, end = byte_range or (0, stored.size)
    sources = [TermSource(t.xorb.hash, t.xorb.chunks, t.start, t.end) for t in stored.terms]
    plan = plan_reconstruction(sources, start, end)
    xorbs = {t.xorb.hash: t.xorb for t in stored.terms}
    return {
        "offset_into_first_range": plan.offset_into_first_range,
        "terms": [
            {"hash": t.xorb, "unpacked_length": t.unpacked_length, "range": {"start": t.start, "end": t.end}}
            for t in plan.terms
        ],
        "fetch_info": {
            xorb: [
                {
                    "range": {"start": f.start, "end": f.end},
                    "url": _xorb_url(hub, xorbs[xorb], f.byte_start, f.byte_end, base_url),
                    "url_range": {"start": f.byte_start, "end": f.byte_end},
                }
                for f in ranges
            ]
            for xorb, ranges in plan.fetch.items()
        },
    }


def _xorb_url(hub: Hub, xorb: xet_store.StoredXorb, lo: int, hi: int, base_url: str) -> str:
    """Where a client fetches bytes lo..hi of a xorb: straight from object storage when it can
    presign, else a hub link signed for exactly that range."""
    direct = hub.blobs.download_url(xorb.blob_oid, hub.settings.transfer_url_ttl)
    if direct is not None:
        return direct
    query = signed_query(hub.settings.secret_key, "xorb", xorb.hash, f"{lo}-{hi}", ttl=hub.settings.transfer_url_ttl)
    return f"{base_url}/xet/xorbs/default/{xorb.hash}?range={lo}-{hi}&{query}"


def open_xorb_range(
    hub: Hub, xorb_hash: str, signed_range: str, *, exp: int, sig: str, requested: tuple[int, int] | None
) -> tuple[str, int, int]:
    """Check a signed xorb URL and the requested range; returns (blob oid, start, end exclusive)."""
    if not check_signature(hub.settings.secret_key, "xorb", xorb_hash, signed_range, expires_at=exp, signature=sig):
        raise PermissionDenied("This xorb link is invalid or has expired; ask for a new reconstruction")
    lo_text, _, hi_text = signed_range.partition("-")
    lo, hi = int(lo_text), int(hi_text) + 1
    start, end = requested or (lo, hi)
    if not lo <= start < end <= hi:
        raise PermissionDenied("The requested bytes are outside the range this link was signed for")
    with hub.db() as session:
        row = session.get(XetXorb, xorb_hash)
        if row is None:
            raise XetObjectNotFound(f"Xorb {xorb_hash} does not exist")
        return row.blob_oid, start, end


def read_xorb(hub: Hub, blob_oid: str, start: int, end: int) -> Iterator[bytes]:
    """The bytes [start, end) of a stored xorb, as open_xorb_range allowed them."""
    return hub.blobs.read(blob_oid, start, end)


def adopt_file(hub: Hub, repo_id: int, pointer: LfsPointer) -> bool:
    """Whether this repository uploaded the file through Xet (a shard sent with its write token);
    if so, make it the LFS object of that sha256, once its bytes are checked to hash to it.

    A shard's file may use xorbs that others uploaded (global deduplication), but registering it
    takes the verification hash of every term, computed from the raw hashes of every chunk: only
    someone holding the bytes knows those, as the hub never reveals them (dedup answers key them
    with a one-time secret). So a registered file is proof of possession like an upload.
    """
    with hub.db() as session:
        candidates = list(
            session.scalars(
                select(XetRepoFile.file_hash).where(XetRepoFile.repo_id == repo_id, XetRepoFile.sha256 == pointer.oid)
            )
        )
    for name in candidates:
        stored = xet_store.get_file(hub, name)
        if stored.size != pointer.size:
            continue
        xet_store.verify_sha256(hub, name, pointer.oid)
        with hub.db() as session:
            row = session.get(LfsObject, pointer.oid)
            if row is None:
                session.add(LfsObject(oid=pointer.oid, size=pointer.size, xet_hash=name))
            elif row.size != pointer.size:
                continue
        return True
    return False
