"""The scans' records (the `file_scans` rows), kept by content: "sha256:<oid>" for a file stored in LFS
or Xet, "blob:<id>" for one kept in git. A content scanned once is never scanned again, whichever
repository, path or door it comes through next."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from csghub.db.models import FileScan, utcnow
from csghub.services.context import Hub
from csghub.services.scanning.pickles import Import, Verdict

PENDING, DONE, ERROR = "pending", "done", "error"


@dataclass(frozen=True, slots=True)
class Target:
    """A file's content to scan and where to read it: an LFS (or Xet) object, or a blob of `repo_id`."""

    repo_id: int
    path: str
    size: int
    lfs_oid: str | None
    blob_oid: str

    @property
    def key(self) -> str:
        return f"sha256:{self.lfs_oid}" if self.lfs_oid else f"blob:{self.blob_oid}"


@dataclass(frozen=True, slots=True)
class Record:
    key: str
    state: str
    verdict: Verdict | None  # set once done


def _record(row: FileScan) -> Record:
    verdict = None
    if row.state == DONE:
        imports = tuple(Import(m, n, s) for m, n, s in json.loads(row.imports))
        verdict = Verdict(row.level, imports)
    elif row.state == ERROR:
        verdict = Verdict("", (), row.error)
    return Record(row.key, row.state, verdict)


def find_records(hub: Hub, keys: Iterable[str]) -> dict[str, Record]:
    wanted = sorted(set(keys))
    found: dict[str, Record] = {}
    with hub.db() as session:
        for start in range(0, len(wanted), 500):  # bounded IN lists on every database
            rows = session.scalars(select(FileScan).where(FileScan.key.in_(wanted[start : start + 500])))
            found.update((row.key, _record(row)) for row in rows)
    return found


def register(hub: Hub, target: Target) -> bool:
    """A pending record for the target's content; False if one (of any state) was already there."""
    try:
        with hub.db() as session:
            if session.get(FileScan, target.key) is not None:
                return False
            session.add(FileScan(key=target.key, size=target.size, repo_id=target.repo_id, path=target.path))
    except IntegrityError:  # another writer registered the same content first
        return False
    return True


def save(hub: Hub, target: Target, verdict: Verdict) -> None:
    """Record a finished scan (over a pending record, or as a new one)."""
    imports = json.dumps([[i.module, i.name, i.safety] for i in verdict.imports])
    values = {
        "state": ERROR if verdict.error else DONE,
        "level": verdict.level,
        "imports": imports,
        "error": verdict.error,
        "scanned_at": utcnow(),
    }
    for _attempt in range(2):  # a concurrent first insert of the same content: update it instead
        try:
            with hub.db() as session:
                row = session.get(FileScan, target.key)
                if row is None:
                    row = FileScan(key=target.key, size=target.size, repo_id=target.repo_id, path=target.path)
                    session.add(row)
                for name, value in values.items():
                    setattr(row, name, value)
            return
        except IntegrityError:
            continue


def pending_targets(hub: Hub, limit: int = 10_000) -> list[Target]:
    """What was registered but not scanned yet (a restart cut the queue short), oldest first."""
    with hub.db() as session:
        rows = session.scalars(
            select(FileScan)
            .where(FileScan.state == PENDING, FileScan.repo_id.is_not(None))
            .order_by(FileScan.created_at)
            .limit(limit)
        )
        return [_target_of(row) for row in rows]


def _target_of(row: FileScan) -> Target:
    kind, _, oid = row.key.partition(":")
    assert row.repo_id is not None
    if kind == "sha256":
        return Target(row.repo_id, row.path, row.size, oid, "")
    return Target(row.repo_id, row.path, row.size, None, oid)
