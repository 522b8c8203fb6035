"""Git LFS: the batch API, transfers the hub serves itself, multipart uploads, verification.

Objects are content-addressed and shared by all repositories; a repository may download an object only
once one of its commits references it (recorded by link_objects after a push or commit), and a commit
may reference it only with proof of possession (services/proofs). So the batch answer asks for an
upload of every object not yet in the repository, even one storage already holds: the upload is
hashed (the proof) and storage still keeps one copy. Every transfer link is signed for one repository.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.core.errors import BlobNotFound, EntryNotFound, HubError, InvalidArgument, NotFound, Unauthenticated
from csghub.core.signing import check_signature, signed_query
from csghub.db.models import LfsObject, LfsUpload, RepoLfsObject, utcnow
from csghub.git.lfs import LfsPointer
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize
from csghub.services.repositories import proofs
from csghub.services.repositories.repos import RepoView
from csghub.services.xet import store as xet_store
from csghub.storage.base import check_stream, validate_oid

MAX_OBJECT_SIZE = 5 * 1024**4  # 5 TiB, the S3 object limit
UPLOAD_TTL = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class BatchObject:
    oid: str
    size: int


def parse_batch_objects(objects: Any) -> list[BatchObject]:
    if not isinstance(objects, list) or not objects:
        raise InvalidArgument("LFS batch request needs a non-empty 'objects' list")
    if len(objects) > 1000:
        raise InvalidArgument("LFS batch request may name at most 1000 objects")
    out = []
    for item in objects:
        if not isinstance(item, dict):
            raise InvalidArgument("Each LFS batch object must be an object with 'oid' and 'size'")
        oid, size = item.get("oid"), item.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_OBJECT_SIZE:
            raise InvalidArgument(f"Invalid size for LFS object {oid!r}: {size!r}")
        out.append(BatchObject(validate_oid(str(oid)), size))
    return out


def _object_known(session: Session, hub: Hub, oid: str, size: int) -> bool:
    row = session.get(LfsObject, oid)
    if row is not None:
        return row.size == size
    stored = hub.blobs.stat(oid)
    if stored == size:
        session.add(LfsObject(oid=oid, size=size))
        return True
    return False


def register_object(hub: Hub, oid: str, size: int) -> None:
    with hub.db() as session:
        if session.get(LfsObject, oid) is None:
            session.add(LfsObject(oid=oid, size=size))


def xet_hash_of(hub: Hub, oid: str) -> str | None:
    """The Xet file an LFS object is stored as, or None for a plain blob-store object."""
    with hub.db() as session:
        row = session.get(LfsObject, oid)
        return row.xet_hash if row is not None else None


def xet_hashes_of(hub: Hub, repo_id: int, oids: list[str]) -> dict[str, str]:
    """oid -> Xet file hash for those of `oids` in this repository that are stored as Xet files (one
    query); objects the repository does not hold say nothing about what is stored elsewhere."""
    if not oids:
        return {}
    with hub.db() as session:
        rows = session.execute(
            select(LfsObject.oid, LfsObject.xet_hash)
            .join(RepoLfsObject, RepoLfsObject.oid == LfsObject.oid)
            .where(RepoLfsObject.repo_id == repo_id, LfsObject.oid.in_(oids), LfsObject.xet_hash.is_not(None))
        )
        return {oid: xet_hash for oid, xet_hash in rows if xet_hash}


def linked_oids(hub: Hub, repo_id: int, oids: list[str]) -> set[str]:
    """Those of `oids` this repository holds (one query); unlike `require_linked`, nothing is asked of an
    upstream for the rest, so a page may call it without starting a download."""
    if not oids:
        return set()
    with hub.db() as session:
        rows = session.execute(
            select(RepoLfsObject.oid).where(RepoLfsObject.repo_id == repo_id, RepoLfsObject.oid.in_(oids))
        )
        return {oid for (oid,) in rows}


def require_linked(hub: Hub, repo_id: int, pointer: LfsPointer) -> None:
    """A pointer in a repository's tree serves bytes only if the repository holds its object."""
    with hub.db() as session:
        if _linked(session, repo_id, pointer.oid):
            return
    # A repository the pull-through cache keeps names objects it has yet to fetch: they come now.
    brought = (s.provide_object(hub, repo_id, pointer.oid, pointer.size, from_batch=False) for s in hub.missing)
    if not any(brought):
        raise EntryNotFound(f"LFS object {pointer.oid} was never uploaded to this repository")


def read_object(hub: Hub, oid: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Stream an object's bytes [start, end), from the blob store or rebuilt from Xet chunks."""
    for source in hub.missing:
        arriving = source.read_object(hub, oid, start, end)
        if arriving is not None:
            return arriving
    xet_hash = xet_hash_of(hub, oid)
    if xet_hash is not None:
        return xet_store.read_file(hub, xet_store.get_file(hub, xet_hash), start, end)
    return hub.blobs.read(oid, start, end)


def direct_download_url(hub: Hub, oid: str) -> str | None:
    """A URL clients can fetch the bytes from without the hub (S3), when the object is a plain blob."""
    if xet_hash_of(hub, oid) is not None or any(source.arriving(oid) is not None for source in hub.missing):
        return None  # rebuilt from chunks, or still arriving from an upstream: the hub serves it
    return hub.blobs.download_url(oid, hub.settings.transfer_url_ttl)


def link_objects(hub: Hub, repo_id: int, pointers: Iterable[LfsPointer]) -> None:
    wanted = {p.oid: p.size for p in pointers}
    if not wanted:
        return
    with hub.db() as session:
        have = set(
            session.scalars(
                select(RepoLfsObject.oid).where(RepoLfsObject.repo_id == repo_id, RepoLfsObject.oid.in_(wanted))
            )
        )
        for oid, size in wanted.items():
            if oid in have:
                continue
            if session.get(LfsObject, oid) is None:
                session.add(LfsObject(oid=oid, size=size))
                session.flush()
            session.add(RepoLfsObject(repo_id=repo_id, oid=oid))


def _brought(hub: Hub, repo_id: int, obj: BatchObject) -> bool:
    """An object a pull-through cached repository names, coming from its upstream: the batch answers once
    its first bytes came, and the download link streams it as it arrives (open_object, read_object)."""
    return any(source.provide_object(hub, repo_id, obj.oid, obj.size, from_batch=True) for source in hub.missing)


def _linked(session: Session, repo_id: int, oid: str) -> bool:
    return session.get(RepoLfsObject, (repo_id, oid)) is not None


class Transfers:
    """Builds the hrefs of one batch answer for one repository; `base_url` is where clients reach this hub."""

    def __init__(self, hub: Hub, repo_id: int, base_url: str) -> None:
        self.hub = hub
        self.repo = str(repo_id)
        self.base = base_url.rstrip("/")
        self.ttl = hub.settings.transfer_url_ttl

    def _signed(self, path: str, *parts: str, query: str = "") -> str:
        return f"{self.base}{path}?{query}{signed_query(self.hub.settings.secret_key, *parts, ttl=self.ttl)}"

    def download(self, oid: str) -> dict[str, Any]:
        href = direct_download_url(self.hub, oid) or self._signed(f"/lfs/objects/{oid}", "get", oid)
        return {"href": href, "expires_in": self.ttl}

    def verify(self, obj: BatchObject, upload_id: str = "") -> dict[str, Any]:
        parts = ("verify", obj.oid, str(obj.size), self.repo, upload_id)
        query = f"repo={self.repo}&upload={upload_id}&"
        return {"href": self._signed(f"/lfs/verify/{obj.oid}/{obj.size}", *parts, query=query), "expires_in": self.ttl}

    def basic_upload(self, obj: BatchObject, upload_id: str) -> dict[str, Any]:
        """A direct upload to storage lands under `upload_id`, so the verify of this very upload hashes it."""
        href = self.hub.blobs.upload_url(obj.oid, obj.size, self.ttl, upload_id) or self._signed(
            f"/lfs/objects/{obj.oid}/{obj.size}", "put", obj.oid, str(obj.size), self.repo, query=f"repo={self.repo}&"
        )
        return {"href": href, "expires_in": self.ttl}

    def multipart_upload(self, upload: LfsUpload) -> dict[str, Any]:
        count = max(1, math.ceil(upload.size / upload.part_size))
        # csghub-sdk reads the upload id back from the `uploadId` query parameter of the part URLs.
        urls = self.hub.blobs.part_urls(upload.id, upload.store_upload_id, count, self.ttl) or [
            self._signed(f"/lfs/parts/{upload.id}/{n}", "part", upload.id, str(n)) + f"&uploadId={upload.id}"
            for n in range(1, count + 1)
        ]
        # Every other header value is taken for a part URL by some clients: only chunk_size besides.
        header: dict[str, str] = {"chunk_size": str(upload.part_size)}
        header.update({str(n): url for n, url in enumerate(urls, start=1)})
        href = self._signed(f"/lfs/complete/{upload.id}", "complete", upload.id)
        return {"href": href, "header": header, "expires_in": self.ttl}


def _open_multipart(session: Session, hub: Hub, repo_id: int, obj: BatchObject) -> LfsUpload:
    """Reuse this repository's open upload for this object so a resumed client gets the same upload and
    parts; another repository's upload is never handed out (its completion is that repository's proof)."""
    cutoff = utcnow() - UPLOAD_TTL
    upload = session.scalar(
        select(LfsUpload)
        .where(
            LfsUpload.oid == obj.oid,
            LfsUpload.size == obj.size,
            LfsUpload.repo_id == repo_id,
            LfsUpload.created_at > cutoff,
        )
        .order_by(LfsUpload.created_at.desc())
    )
    if upload is not None:
        return upload
    upload_id = secrets.token_hex(16)
    handle = hub.blobs.create_multipart(obj.oid, upload_id)
    upload = LfsUpload(
        id=upload_id,
        oid=obj.oid,
        size=obj.size,
        repo_id=repo_id,
        part_size=hub.settings.lfs_part_size,
        store_upload_id=handle,
    )
    session.add(upload)
    session.flush()
    return upload


def batch(
    hub: Hub,
    actor: Actor,
    repo: RepoView,
    *,
    operation: str,
    objects: list[BatchObject],
    transfers: list[str],
    base_url: str,
    always_multipart: bool = False,
) -> dict[str, Any]:
    """Answer a batch request. `always_multipart` serves csghub-sdk's large-folder uploader, which
    expects a multipart action for every object it asks about, even small or already stored ones."""
    if operation not in ("upload", "download"):
        raise InvalidArgument(f"Invalid LFS operation '{operation}': expected upload or download")
    authorize(actor, Action.WRITE if operation == "upload" else Action.DOWNLOAD, repo.resource)
    urls = Transfers(hub, repo.id, base_url)
    multipart = "multipart" in transfers
    answer: list[dict[str, Any]] = []
    with hub.db() as session:
        for obj in objects:
            entry: dict[str, Any] = {"oid": obj.oid, "size": obj.size, "authenticated": True}
            if operation == "download":
                held = _linked(session, repo.id, obj.oid) and _object_known(session, hub, obj.oid, obj.size)
                try:
                    brought = held or _brought(hub, repo.id, obj)
                except HubError as exc:  # too large for the cache, or the upstream failed: this object only
                    entry["error"] = {"code": exc.status, "message": exc.message}
                else:
                    if brought:
                        entry["actions"] = {"download": urls.download(obj.oid)}
                    else:
                        entry["error"] = {
                            "code": 404,
                            "message": f"Object {obj.oid} does not exist in this repository",
                        }
            elif always_multipart and multipart:
                upload = _open_multipart(session, hub, repo.id, obj)
                entry["actions"] = {"upload": urls.multipart_upload(upload), "verify": urls.verify(obj)}
            elif proofs.in_repo(session, repo.id, LfsPointer(obj.oid, obj.size)):
                pass  # Only what this repository holds needs no upload: nothing is told about the rest.
            elif multipart and obj.size > hub.settings.lfs_part_size:
                upload = _open_multipart(session, hub, repo.id, obj)
                entry["actions"] = {"upload": urls.multipart_upload(upload), "verify": urls.verify(obj)}
            else:
                upload_id = secrets.token_hex(16)
                entry["actions"] = {
                    "upload": urls.basic_upload(obj, upload_id),
                    "verify": urls.verify(obj, upload_id),
                }
            answer.append(entry)
    transfer = "multipart" if multipart and operation == "upload" else "basic"
    return {"transfer": transfer, "objects": answer, "hash_algo": "sha256"}


def _check(hub: Hub, signature: str, expires_at: int, *parts: str) -> None:
    if not check_signature(hub.settings.secret_key, *parts, expires_at=expires_at, signature=signature):
        raise Unauthenticated("This transfer link is invalid or has expired; request a new one from the batch API")


def receive_object(hub: Hub, repo_id: int, oid: str, size: int, chunks: Iterable[bytes], *, exp: int, sig: str) -> None:
    """A basic PUT to a hub-signed href: stream, verify, publish (once), and record the proof."""
    _check(hub, sig, exp, "put", oid, str(size), str(repo_id))
    # Hashed even when storage holds the bytes already: the upload is this repository's proof.
    if xet_hash_of(hub, oid) is not None:
        check_stream(oid, size, chunks)  # kept as Xet chunks already: no second copy
    else:
        hub.blobs.put(oid, size, chunks)
    register_object(hub, oid, size)
    proofs.record_upload(hub, repo_id, oid)


def _keep_one_copy(hub: Hub, oid: str) -> None:
    """An object kept as a Xet file needs no blob of its bytes: once an upload has proven possession,
    the blob it left behind goes."""
    if xet_hash_of(hub, oid) is not None:
        hub.blobs.delete(oid)


def verify_object(hub: Hub, repo_id: int, oid: str, size: int, upload_id: str, *, exp: int, sig: str) -> None:
    """The verify action: the bytes came through the hub (already proven), or went straight to storage
    under `upload_id` and are hashed now."""
    _check(hub, sig, exp, "verify", oid, str(size), str(repo_id), upload_id)
    with hub.db() as session:
        if proofs.in_repo(session, repo_id, LfsPointer(oid, size)):
            return
    hub.blobs.verify_upload(oid, size, upload_id)
    register_object(hub, oid, size)
    proofs.record_upload(hub, repo_id, oid)
    _keep_one_copy(hub, oid)


def open_object(hub: Hub, oid: str, *, exp: int, sig: str) -> int:
    """Check a signed download link; returns the object's size."""
    _check(hub, sig, exp, "get", oid)
    with hub.db() as session:
        row = session.get(LfsObject, oid)
        size = row.size if row is not None and row.xet_hash else hub.blobs.stat(oid)
    for source in hub.missing if size is None else ():
        size = source.arriving(oid)  # still coming from an upstream: streamed as it arrives
        if size is not None:
            break
    if size is None:
        raise BlobNotFound(f"Object {oid} is not in the blob store")
    return size


def _get_upload(session: Session, upload_id: str) -> LfsUpload:
    upload = session.get(LfsUpload, upload_id)
    if upload is None:
        raise NotFound(f"Upload {upload_id} does not exist or was already completed")
    return upload


def receive_part(hub: Hub, upload_id: str, number: int, chunks: Iterable[bytes], *, exp: int, sig: str) -> str:
    _check(hub, sig, exp, "part", upload_id, str(number))
    with hub.db() as session:
        upload = _get_upload(session, upload_id)
        count = max(1, math.ceil(upload.size / upload.part_size))
    if not 1 <= number <= count:
        raise InvalidArgument(f"Part {number} is out of range 1..{count}")
    return hub.blobs.put_part(upload_id, number, chunks)


def complete_upload(hub: Hub, upload_id: str, body: Any, *, exp: int, sig: str) -> None:
    _check(hub, sig, exp, "complete", upload_id)
    if not isinstance(body, dict) or not isinstance(body.get("parts"), list):
        raise InvalidArgument("Completion body must be {'oid': ..., 'parts': [{'partNumber': n, 'etag': ...}]}")
    etags: list[tuple[int, str]] = []
    for part in body["parts"]:
        number = part.get("partNumber") if isinstance(part, dict) else None
        if not isinstance(number, int):
            raise InvalidArgument("Each completed part needs an integer 'partNumber'")
        etags.append((number, str(part.get("etag") or "")))
    with hub.db() as session:
        upload = _get_upload(session, upload_id)
        oid, size, handle, repo_id = upload.oid, upload.size, upload.store_upload_id, upload.repo_id
    if body.get("oid") not in (None, oid):
        raise InvalidArgument(f"Completion names object {body.get('oid')} but upload {upload_id} is for {oid}")
    try:
        # Hashed even when storage holds the bytes already (it then keeps its one copy): the parts
        # are this repository's proof of possession.
        hub.blobs.complete_multipart(oid, size, upload_id, handle, etags)
    except InvalidArgument:
        # The parts do not make up the object: start over rather than keep bad parts around.
        hub.blobs.abort_multipart(upload_id, handle)
        with hub.db() as session:
            failed = session.get(LfsUpload, upload_id)
            if failed is not None:
                session.delete(failed)
        raise
    register_object(hub, oid, size)
    if repo_id is not None:
        proofs.record_upload(hub, repo_id, oid)
    _keep_one_copy(hub, oid)
    with hub.db() as session:
        done = session.get(LfsUpload, upload_id)
        if done is not None:
            session.delete(done)
