"""Deciding how a client should send each file (the preupload answer)."""

from __future__ import annotations

from dataclasses import dataclass

from csghub.core.errors import EntryNotFound
from csghub.core.names import validate_path
from csghub.services.context import Hub
from csghub.services.repositories.commits import lfs_rules_at
from csghub.services.repositories.files import Snapshot


@dataclass(frozen=True, slots=True)
class PlannedFile:
    path: str
    size: int
    sample: bytes


@dataclass(frozen=True, slots=True)
class UploadMode:
    path: str
    mode: str  # "lfs" | "regular"
    remote_oid: str | None
    is_dir: bool = False


def _looks_binary(sample: bytes) -> bool:
    return b"\x00" in sample


def plan_uploads(
    hub: Hub, snapshot: Snapshot | None, planned: list[PlannedFile], *, lfs_allowed: bool
) -> list[UploadMode]:
    """How each file should be sent; `lfs_allowed` is False for clients that would take `lfs` as Xet."""
    rules = lfs_rules_at(snapshot.git, snapshot.sha) if snapshot else None
    out = []
    for item in planned:
        validate_path(item.path)
        mode = "regular"
        if (
            lfs_allowed
            and item.size > 0
            and (
                item.size >= hub.settings.lfs_threshold
                or _looks_binary(item.sample)
                or (rules is not None and rules.matches(item.path))
            )
        ):
            mode = "lfs"
        remote_oid = None
        is_dir = False
        if snapshot is not None:
            try:
                entry = snapshot.git.entry(snapshot.sha, item.path)
                is_dir = entry.kind == "directory"
                remote_oid = None if is_dir else (entry.lfs.oid if entry.lfs else entry.oid)
            except EntryNotFound:
                pass
        out.append(UploadMode(item.path, mode, remote_oid, is_dir))
    return out
