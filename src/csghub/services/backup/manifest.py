"""The manifest of a backup archive, and the check that the archive still holds exactly what it lists.

`manifest.json` names every file of the archive with its size and sha256 (for a blob, that is its name),
the schema revision and hub version it was taken from, the time, the rows per table and each repository's
refs. `manifest.sha256` holds the manifest's own hash, so a damaged manifest is told from a damaged file.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from csghub.core.errors import InvalidArgument

FORMAT = "csghub-backup/1"
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
READ_CHUNK = 4 * 1024 * 1024


class BackupInvalid(InvalidArgument):
    """The archive is not a backup, or its files are not what its manifest says."""

    code = "BackupInvalid"


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str  # relative to the archive, with "/"
    size: int
    sha256: str


@dataclass(slots=True)
class Manifest:
    hub_version: str
    schema_revision: str
    created_at: str
    database_dialect: str
    tables: dict[str, int]  # rows per table
    handed_out: dict[str, int]  # the highest id each table handed out (dumps.handed_out_ids)
    repos: dict[str, dict[str, Any]]  # repository id -> {"head": ref, "refs": {ref: sha}}
    files: list[FileEntry]
    incremental_from: str = ""
    absent_blobs: list[str] = field(default_factory=list)  # named by rows, gone from storage when copied
    stats: dict[str, int] = field(default_factory=dict)
    format: str = FORMAT

    def to_json(self) -> bytes:
        data = asdict(self)
        data["files"] = [[f.path, f.size, f.sha256] for f in self.files]
        return json.dumps(data, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise BackupInvalid(f"Not a CSGHub backup of format {FORMAT} (found {data.get('format')!r})")
            data["files"] = [FileEntry(str(p), int(s), str(h)) for p, s, h in data["files"]]
            return cls(**data)
        except (ValueError, TypeError, KeyError) as exc:
            raise BackupInvalid(f"The backup's manifest is unreadable: {exc}") from None

    def by_path(self) -> dict[str, FileEntry]:
        return {f.path: f for f in self.files}


def hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(READ_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def write_manifest(root: Path, manifest: Manifest) -> None:
    raw = manifest.to_json()
    (root / MANIFEST).write_bytes(raw)
    (root / MANIFEST_SUM).write_text(f"{hashlib.sha256(raw).hexdigest()}  {MANIFEST}\n")


def read_manifest(root: Path) -> Manifest:
    """The archive's manifest, once its own checksum matches; BackupInvalid otherwise."""
    try:
        raw = (root / MANIFEST).read_bytes()
        expected = (root / MANIFEST_SUM).read_text().split()[0]
    except (FileNotFoundError, NotADirectoryError, IndexError):
        raise BackupInvalid(f"{root} is not a CSGHub backup (no {MANIFEST} with its {MANIFEST_SUM})") from None
    if hashlib.sha256(raw).hexdigest() != expected:
        raise BackupInvalid(f"{root}/{MANIFEST} is damaged: its sha256 is not the one {MANIFEST_SUM} records")
    return Manifest.from_json(raw)


def _check(root: Path, entry: FileEntry) -> str | None:
    try:
        size, digest = hash_file(root / entry.path)
    except FileNotFoundError:
        return f"missing: {entry.path}"
    if size != entry.size:
        return f"wrong size: {entry.path} holds {size} bytes, the manifest says {entry.size}"
    if digest != entry.sha256:
        return f"corrupt: {entry.path} hashes to {digest}, the manifest says {entry.sha256}"
    return None


def verify_archive(root: Path, *, workers: int = 0) -> tuple[Manifest, list[str]]:
    """Re-hash every file the manifest lists; returns the manifest and every problem found (none: sound)."""
    manifest = read_manifest(root)
    threads = workers or min(8, (os.cpu_count() or 2) * 2)
    with ThreadPoolExecutor(max_workers=threads) as pool:  # hashlib lets go of the GIL on large reads
        problems = [p for p in pool.map(lambda e: _check(root, e), manifest.files) if p]
    listed = {f.path for f in manifest.files} | {MANIFEST, MANIFEST_SUM}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel not in listed:
            problems.append(f"not in the manifest: {rel}")
    return manifest, problems
