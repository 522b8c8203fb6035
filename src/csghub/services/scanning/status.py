"""What readers see of the scans: each listed file's security status, in Hugging Face's terms.

Reached only through a repository's own routes (tree, paths-info, the portal's file list and file page),
which authorize reading the repository first: a private repository's scan results go no further than
its files do. A content's record says nothing about where else that content lies.

Statuses: "safe" (no pickle import above innocuous, or not a pickle-based format: safetensors, JSON,
text are not scanned, as nothing in them runs when loaded), "caution" (imports picklescan does not know),
"unsafe" (a dangerous import), "queued" (not scanned yet), "error" (unreadable as its format).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from csghub.git.repository import TreeEntry
from csghub.services.context import Hub
from csghub.services.scanning import pipeline, results
from csghub.services.scanning.pickles import Import, is_pickle_based

STATUS_OF_LEVEL = {"innocuous": "safe", "suspicious": "caution", "dangerous": "unsafe"}


@dataclass(frozen=True, slots=True)
class FileSecurity:
    status: str
    # None for files that are not pickle-based (nothing to scan); else the scan's highest level ("" while
    # queued or after an error) and its imports.
    level: str | None
    imports: tuple[Import, ...] = ()
    error: str = ""


NOT_PICKLE = FileSecurity("safe", None)
QUEUED = FileSecurity("queued", "")


def security_of(hub: Hub, repo_id: int, entries: Iterable[TreeEntry]) -> dict[str, FileSecurity]:
    """Path -> status for the files among `entries` (empty when scanning is off). A pickle-based file with
    no record yet (pushed while scanning was off) is queued now."""
    if not hub.settings.scan_enabled:
        return {}
    files = [e for e in entries if e.kind == "file"]
    targets = {e.path: pipeline.target_of(repo_id, e) for e in files if is_pickle_based(e.path)}
    records = results.find_records(hub, [t.key for t in targets.values()])
    out: dict[str, FileSecurity] = {}
    unseen = []
    for entry in files:
        target = targets.get(entry.path)
        if target is None:
            out[entry.path] = NOT_PICKLE
            continue
        record = records.get(target.key)
        if record is None or record.verdict is None:
            out[entry.path] = QUEUED
            if record is None or not hub.scans.queued(target.key):
                unseen.append(target)
        elif record.verdict.error:
            out[entry.path] = FileSecurity("error", "", (), record.verdict.error)
        else:
            verdict = record.verdict
            out[entry.path] = FileSecurity(STATUS_OF_LEVEL[verdict.level], verdict.level, verdict.imports)
    if unseen:
        pipeline.queue(hub, unseen)
    return out
