"""Scanning what the refs now point at, off the request path.

Every way a change arrives ends in writes.after_ref_update, which calls `on_ref_update` (registered by
wiring): the pickle-based files at the moved refs' tips whose content has no record yet get a pending
record and a turn in the hub's scan queue (hub.scans, one background thread). The queue reads each file
(services/scanning/reading.py: streamed, never whole in memory), scans it, and records the verdict. Pending
records left by a restart are queued again at start (`resume`), and a reader that meets a pickle-based
file with no record (pushed while scanning was off) registers it (services/scanning/status.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping

from csghub.core.errors import BlobNotFound, GitError
from csghub.git.repository import TreeEntry
from csghub.services.context import Hub
from csghub.services.scanning import results
from csghub.services.scanning.pickles import Verdict, is_pickle_based, scan_stream
from csghub.services.scanning.reading import open_content
from csghub.services.scanning.results import Target

log = logging.getLogger(__name__)


def target_of(repo_id: int, entry: TreeEntry) -> Target:
    if entry.lfs is not None:
        return Target(repo_id, entry.path, entry.lfs.size, entry.lfs.oid, entry.oid)
    return Target(repo_id, entry.path, entry.size, None, entry.oid)


def scan_target(hub: Hub, target: Target, env: Mapping[str, str] | None = None) -> Verdict:
    """Scan the target's content now and record the verdict."""
    with open_content(hub, target, env) as fh:
        verdict = scan_stream(fh, target.path)
    results.save(hub, target, verdict)
    if verdict.dangerous is not None:
        log.warning(
            "upload scan: %s (%s) imports %s.%s",
            target.path,
            target.key,
            verdict.dangerous.module,
            verdict.dangerous.name,
        )
    return verdict


def _scan_queued(hub: Hub, target: Target) -> None:
    record = results.find_records(hub, [target.key]).get(target.key)
    if record is not None and record.state != results.PENDING:
        return  # scanned meanwhile (inline, by a blocking check, or under another name)
    try:
        scan_target(hub, target)
    except (BlobNotFound, GitError) as exc:  # not here yet (a mirror's object still coming): stays pending
        log.info("upload scan of %s postponed: %s", target.key, exc)


def queue(hub: Hub, targets: list[Target]) -> None:
    """Register each target's content not seen before, and give every pending one a turn in the queue."""
    known = results.find_records(hub, [t.key for t in targets])
    for target in targets:
        record = known.get(target.key)
        if record is None:
            results.register(hub, target)
        elif record.state != results.PENDING:
            continue
        hub.scans.submit(target.key, functools.partial(_scan_queued, hub, target))


def on_ref_update(hub: Hub, repo_id: int, refs: list[str]) -> None:
    """writes.after_ref_update's listener: the pickle-based files at the moved refs' tips are queued."""
    if not hub.settings.scan_enabled:
        return
    git = hub.git(repo_id)
    targets: dict[str, Target] = {}
    for ref in refs:
        tip = git.ref_target(ref)
        if tip is None or ref.startswith("refs/convert/"):  # deleted, or the hub's own Parquet files
            continue
        for entry in git.files_named(tip, is_pickle_based):
            target = target_of(repo_id, entry)
            targets.setdefault(target.key, target)
    if targets:
        queue(hub, list(targets.values()))


def resume(hub: Hub) -> None:
    """At start: the scans a restart interrupted get their turn again."""
    if not hub.settings.scan_enabled:
        return
    for target in results.pending_targets(hub):
        hub.scans.submit(target.key, functools.partial(_scan_queued, hub, target))
