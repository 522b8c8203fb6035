"""The hub's side of a conversion job: what goes in (the data files of one commit, written to the job's
work folder) and what comes out (the job's Parquet shards published as LFS files on refs/convert/parquet,
in Hugging Face's layout `{config}/{split}/NNNN.parquet`, through the one write door of
services/repositories/writes.py)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from csghub.core.names import validate_path
from csghub.git.lfs import LfsPointer, format_pointer
from csghub.git.repository import ZERO_SHA, FileChange
from csghub.services.context import Hub
from csghub.services.datasets.catalog import PARQUET_REF, ShardFile, SplitEntry
from csghub.services.datasets.errors import DatasetLayoutError
from csghub.services.datasets.job import RESULT, SPEC
from csghub.services.datasets.layout import detect_layout
from csghub.services.repositories import files, lfs
from csghub.services.repositories.repos import RepoView
from csghub.services.repositories.writes import VIA_JOB, RefChange, after_ref_update, writing
from csghub.storage.base import iter_file

README = "README.md"
GITATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"
CHUNK = 1024 * 1024
NO_DATA = "This dataset has no data files the viewer can read (CSV, TSV, JSON, JSON Lines or Parquet)"


@dataclass(frozen=True, slots=True)
class Prepared:
    """Either the job is ready to run (`empty` is ""), or there is nothing to convert and `empty` says why."""

    total_bytes: int
    splits: int
    empty: str = ""


def _snapshot(hub: Hub, repo: RepoView, sha: str) -> files.Snapshot:
    # The job reads as the hub itself: whoever pushed could read what they pushed.
    return files.Snapshot(repo, hub.git(repo.id), sha, hub.listings, hub.entries, hub.small_blobs)


def prepare(hub: Hub, repo: RepoView, sha: str, work: Path, spec: dict[str, Any]) -> Prepared:
    """Write `work/spec.json` and `work/in/` (the data files the layout of commit `sha` reads)."""
    snapshot = _snapshot(hub, repo, sha)
    entries = {e.path: e for e in files.all_files(snapshot)}
    sizes = {path: (e.lfs.size if e.lfs is not None else e.size) for path, e in entries.items()}
    readme = None
    if README in entries and sizes[README] <= 1024 * 1024:
        readme = b"".join(files.read_file(hub, snapshot, files.file_content(snapshot, README))).decode(
            "utf-8", errors="replace"
        )
    layout = detect_layout(sizes, readme)  # DatasetLayoutError: a readable failure
    data = sorted({f.path: f for c in layout.configs for s in c.splits for f in s.files}.values(), key=lambda f: f.path)
    if not data:
        return Prepared(
            0, 0, "This dataset has no data files the viewer can read (CSV, TSV, JSON, JSON Lines or Parquet)"
        )
    total = sum(f.size for f in data)
    limit = hub.settings.dataset_convert_max_bytes
    if total > limit:
        return Prepared(
            total,
            0,
            f"The data files hold {total:,} bytes, more than the {limit:,} bytes the viewer converts "
            "(setting dataset_convert_max_bytes)",
        )
    inputs = work / "in"
    for f in data:
        target = inputs / validate_path(f.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        pointer = entries[f.path].lfs
        stored = hub.blobs.local_path(pointer.oid) if pointer is not None else None
        if stored is not None:
            target.symlink_to(stored)  # the blob store's own file on this disk: no copy of a large file
            continue
        with open(target, "wb") as out:
            for chunk in files.read_file(hub, snapshot, files.file_content(snapshot, f.path)):
                out.write(chunk)
    splits = sum(len(c.splits) for c in layout.configs)
    (work / SPEC).write_text(json.dumps({**spec, "files": sizes, "readme": readme}))
    return Prepared(total, splits)


def read_result(work: Path) -> dict[str, Any]:
    try:
        value = json.loads((work / RESULT).read_text())
    except (FileNotFoundError, ValueError):
        return {"splits": [], "error": "The conversion ended without a result"}
    return value if isinstance(value, dict) else {"splits": [], "error": "The conversion's result is unreadable"}


def _store(hub: Hub, path: Path) -> LfsPointer:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    oid = digest.hexdigest()
    if hub.blobs.stat(oid) != size:
        with open(path, "rb") as fh:
            hub.blobs.put(oid, size, iter_file(fh))  # put re-hashes: a changed file is refused
    return LfsPointer(oid, size)


def _shard_path(config: str, split: str, name: str) -> str:
    for part in (config, split):
        if not part or "/" in part or part in (".", "..") or part.startswith("."):
            raise DatasetLayoutError(f"The name {part!r} cannot be used as a folder of the Parquet conversion")
    return validate_path(f"{config}/{split}/{name}", new=True)


def publish(
    hub: Hub, repo: RepoView, source_sha: str, work: Path, splits: list[dict[str, Any]]
) -> tuple[str, list[SplitEntry]]:
    """Store the shards, commit them on refs/convert/parquet (on top of its previous commit) and return that
    commit with the catalog's entries."""
    entries: list[SplitEntry] = []
    laid_out: dict[str, LfsPointer] = {}
    for item in splits:
        shards = []
        for name in item["shards"]:
            path = _shard_path(item["config"], item["split"], name)
            local = work / "out" / item["config"] / item["split"] / name
            pointer = _store(hub, local)
            laid_out[path] = pointer
            num_rows = _rows_of(local)
            shards.append(ShardFile(path, pointer.oid, pointer.size, num_rows))
        entries.append(
            SplitEntry(
                config=item["config"],
                split=item["split"],
                num_rows=int(item["num_rows"]),
                num_bytes_original=int(item["num_bytes_original"]),
                num_bytes_parquet=int(item["num_bytes_parquet"]),
                features=list(item["features"]),
                shards=tuple(shards),
                statistics=item.get("statistics"),
                statistics_error=item.get("statistics_error", ""),
            )
        )
    git = hub.git(repo.id)
    with writing(hub, repo.id), git.quarantined() as staged:
        old = git.ref_target(PARQUET_REF)
        kept = {e.path for e in staged.list_tree(old, recursive=True) if e.kind == "file"} if old else set()
        changes = [FileChange(".gitattributes", staged.write_blob(GITATTRIBUTES))]
        changes += [FileChange(p, staged.write_blob(format_pointer(x.oid, x.size))) for p, x in laid_out.items()]
        changes += [FileChange(p, None) for p in sorted(kept - set(laid_out) - {".gitattributes"})]
        sha = staged.create_commit(
            parent=old,
            changes=changes,
            deleted_folders=[],
            message=f"Update parquet files (converted from {source_sha[:12]})",
            author_name="parquet-converter",
            author_email="parquet-converter@csghub.local",
        )
        staged.admit_objects(sha)
        lfs.link_objects(hub, repo.id, laid_out.values())
        git.update_ref(PARQUET_REF, sha, old)
        change = RefChange(PARQUET_REF, old or ZERO_SHA, sha)
        detail = {"source": source_sha, "splits": len(entries)}
        after_ref_update(hub, repo.id, None, [change], action="dataset.convert", via=VIA_JOB, detail=detail)
    return sha, entries


def _rows_of(path: Path) -> int:
    return int(pq.read_metadata(path).num_rows)
