"""Proof of possession: when a content-addressed object may join a repository.

Objects (LFS blobs, files stored through Xet) are stored once and shared by every repository, so a
name (sha256 and size) must never be enough to get one: whoever learned the hash of a private file
would be handed its bytes. An object may join a repository only when

1. its bytes were uploaded to that repository and hashed to the oid: a `RepoLfsUpload` row written by
   the LFS transfers (basic PUT, multipart completion, verify of a direct upload), or a Xet file a
   shard registered with that repository's write token, whose sha256 the hub checks by rebuilding it;
2. or the actor may download (services/permissions) some repository that already holds it.

Every door that can put an LFS pointer into a repository asks here first: the commit API (NDJSON,
csghub-sdk, the portal), git pushes (the pre-receive hook) and the LFS batch answer, which asks for an
upload whenever the object is not yet in the repository.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from csghub.core.errors import InvalidArgument, NotFound
from csghub.db.models import LfsObject, RepoLfsObject, RepoLfsUpload, XetRepoFile
from csghub.git.lfs import LfsPointer
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, can
from csghub.services.repositories.repos import get_repo_by_id
from csghub.services.xet import cas as xet_cas

# How many other repositories holding an object are tried before the claim is refused: enough for
# any real copy, bounded so that a popular object cannot make one claim scan the whole table.
MAX_HOLDERS_TRIED = 200


@dataclass(frozen=True, slots=True)
class Claim:
    """A pointer some change wants in the repository, and where (a path) it wants it, for messages."""

    path: str
    pointer: LfsPointer


def record_upload(hub: Hub, repo_id: int, oid: str) -> None:
    """Remember that `oid`'s bytes were uploaded to this repository and verified."""
    try:
        with hub.db() as session:
            if session.get(RepoLfsUpload, (repo_id, oid)) is None:
                session.add(RepoLfsUpload(repo_id=repo_id, oid=oid))
    except IntegrityError:
        pass  # a concurrent upload of the same bytes to the same repository recorded it first


def _sized(session: Session, pointer: LfsPointer) -> bool:
    row = session.get(LfsObject, pointer.oid)
    return row is not None and row.size == pointer.size


def in_repo(session: Session, repo_id: int, pointer: LfsPointer) -> bool:
    """Already linked to, or uploaded to, this repository (with this size)."""
    here = (
        session.get(RepoLfsObject, (repo_id, pointer.oid)) is not None
        or session.get(RepoLfsUpload, (repo_id, pointer.oid)) is not None
    )
    return here and _sized(session, pointer)


_BULK = 500  # oids per IN (...) query, well under every database's parameter limit


def _held_here(hub: Hub, repo_id: int, pointers: list[LfsPointer]) -> set[LfsPointer]:
    """Those of `pointers` already linked or uploaded to this repository, in a few queries."""
    held: set[LfsPointer] = set()
    with hub.db() as session:
        for i in range(0, len(pointers), _BULK):
            batch = pointers[i : i + _BULK]
            oids = [p.oid for p in batch]
            here = set(
                session.scalars(
                    select(RepoLfsObject.oid).where(RepoLfsObject.repo_id == repo_id, RepoLfsObject.oid.in_(oids))
                )
            )
            here |= set(
                session.scalars(
                    select(RepoLfsUpload.oid).where(RepoLfsUpload.repo_id == repo_id, RepoLfsUpload.oid.in_(oids))
                )
            )
            sizes = dict(session.execute(select(LfsObject.oid, LfsObject.size).where(LfsObject.oid.in_(here))).all())
            held |= {p for p in batch if p.oid in here and sizes.get(p.oid) == p.size}
    return held


def _uploaded_through_xet(hub: Hub, repo_id: int, pointers: list[LfsPointer]) -> set[LfsPointer]:
    with hub.db() as session:
        named: set[str] = set()
        for i in range(0, len(pointers), _BULK):
            oids = [p.oid for p in pointers[i : i + _BULK]]
            named |= set(
                session.scalars(
                    select(XetRepoFile.sha256).where(XetRepoFile.repo_id == repo_id, XetRepoFile.sha256.in_(oids))
                )
            )
    return {p for p in pointers if p.oid in named and xet_cas.adopt_file(hub, repo_id, p)}


def _readable_elsewhere(hub: Hub, actor: Actor | None, repo_id: int, pointers: list[LfsPointer]) -> set[LfsPointer]:
    """Those of `pointers` that another repository holds and the actor may download from it."""
    if actor is None:
        return set()
    holders: dict[str, list[int]] = {}
    sizes: dict[str, int] = {}
    with hub.db() as session:
        for i in range(0, len(pointers), _BULK):
            oids = [p.oid for p in pointers[i : i + _BULK]]
            sizes.update(session.execute(select(LfsObject.oid, LfsObject.size).where(LfsObject.oid.in_(oids))).all())
            for oid, holder in session.execute(
                select(RepoLfsObject.oid, RepoLfsObject.repo_id).where(
                    RepoLfsObject.oid.in_(oids), RepoLfsObject.repo_id != repo_id
                )
            ):
                tried = holders.setdefault(oid, [])
                if len(tried) < MAX_HOLDERS_TRIED:
                    tried.append(holder)
    readable: dict[int, bool] = {}  # most claims of one change come from the same few repositories

    def may_read(holder: int) -> bool:
        if holder not in readable:
            try:
                readable[holder] = can(actor, Action.DOWNLOAD, get_repo_by_id(hub, holder).resource)
            except NotFound:
                readable[holder] = False
        return readable[holder]

    return {p for p in pointers if sizes.get(p.oid) == p.size and any(may_read(h) for h in holders.get(p.oid, []))}


def unproven(hub: Hub, actor: Actor | None, repo_id: int, claims: Iterable[Claim]) -> list[Claim]:
    """The claims this actor has not earned for this repository (one per distinct object)."""
    first: dict[LfsPointer, Claim] = {}
    for claim in claims:
        first.setdefault(claim.pointer, claim)
    rest = list(first)
    for proven in (
        lambda pointers: _held_here(hub, repo_id, pointers),
        lambda pointers: _uploaded_through_xet(hub, repo_id, pointers),
        lambda pointers: _readable_elsewhere(hub, actor, repo_id, pointers),
    ):
        if rest:
            done = proven(rest)
            rest = [p for p in rest if p not in done]
    return [first[p] for p in rest]


def describe(claims: list[Claim], limit: int = 20) -> str:
    lines = [f"  {c.path}: {c.pointer.oid} ({c.pointer.size} bytes)" for c in claims[:limit]]
    if len(claims) > limit:
        lines.append(f"  ... and {len(claims) - limit} more")
    return "\n".join(lines)


def require(hub: Hub, actor: Actor | None, repo_id: int, claims: Iterable[Claim]) -> None:
    """Refuse a commit naming objects whose bytes the actor never sent here nor may read elsewhere."""
    missing = unproven(hub, actor, repo_id, claims)
    if missing:
        raise InvalidArgument(
            f"{len(missing)} LFS file(s) name objects that were not uploaded to this repository:\n"
            f"{describe(missing)}\n"
            "Upload their bytes first (the LFS batch API or Xet, as huggingface_hub and git-lfs do), "
            "then commit again."
        )
