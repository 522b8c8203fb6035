"""The one door of every write to a repository: its fair write lock, the step after every ref update,
and repair after a failure.

Every way a change arrives (commit API, web edit, branch and tag changes, post-push bookkeeping, the
pre-receive hook of a push) holds the repository's write lock (git/write_lock.py), so writers are
served in the order they arrived, across the server and git's hook processes alike. A write that
fails part-way, or a process killed between moving a ref and refreshing the database, leaves the
database behind git; `reconcile_repo` puts it back in step from what the refs say.

Whatever moved the refs (a push over HTTP or SSH, the commit API, a web edit or upload, a branch or
tag change; later mirrors and job outputs), `after_ref_update` then runs the same steps, still
under the lock: an audit record (who, which refs old -> new, how it arrived), the repository row
refreshed from its default branch (head, card, tags, last modified), listing caches dropped, and
maintenance (packing loose objects) scheduled off the request path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.core.errors import NotFound
from csghub.db.models import Repo
from csghub.git import write_lock
from csghub.git.repository import ZERO_SHA
from csghub.services import audit
from csghub.services.context import Hub, RepoEvent
from csghub.services.permissions import Actor
from csghub.services.repositories import leftovers
from csghub.services.repositories.repos import WRITE_WAIT_S, RepoView, get_repo_by_id, refresh_metadata

log = logging.getLogger(__name__)
START_WAIT_S = 10.0


@contextmanager
def writing(hub: Hub, repo_id: int) -> Iterator[write_lock.WriteLock]:
    """Hold the repository's write lock; if the write fails, bring the database in step with git."""
    with write_lock.hold(hub.repo_path(repo_id), WRITE_WAIT_S) as lock:
        try:
            yield lock
        except BaseException:
            repair_after_failure(hub, repo_id)
            raise


@dataclass(frozen=True, slots=True)
class RefChange:
    """One ref moved: created when `old` is ZERO_SHA, deleted when `new` is."""

    ref: str
    old: str
    new: str


# How a change arrived, as the audit log names it.
VIA_GIT_HTTP = "git-http"
VIA_GIT_SSH = "git-ssh"
VIA_API = "api"  # the Hugging Face-compatible API (huggingface_hub)
VIA_CSGHUB_API = "csghub-api"  # csghub's own /api/v1 routes (csghub-sdk, csghub-cli)
VIA_WEB = "web"
VIA_JOB = "job"  # the hub's own background work (the dataset viewer's Parquet conversion)


def after_ref_update(
    hub: Hub,
    repo_id: int,
    actor: Actor | None,
    changes: Sequence[RefChange],
    *,
    action: str,
    via: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """The step every ref update ends in (call it holding the write lock, after the refs moved)."""
    if not changes:
        return
    hub.refs.invalidate()
    refs = {change.ref: [change.old, change.new] for change in sorted(changes, key=lambda c: c.ref)}

    def record(session: Session, view: RepoView) -> None:
        target = f"{view.type.value}:{view.full_name}"
        detail_ = {**(detail or {}), "refs": refs, "via": via}
        audit.record(session, actor, action, namespace=view.namespace, target=target, detail=detail_)
        moved = [[ref, old, new] for ref, (old, new) in refs.items()]
        hub.announce(session, RepoEvent(view.id, "repo.content", "update", {"refs": moved}))

    # One transaction for the record and the refreshed row: readers never see one without the other.
    # The hub's own refs (refs/convert/*, the dataset viewer's) are no modification by a user.
    # Nor are pull requests' refs/pr/*: the repository changes when one is merged.
    touch = any(not change.ref.startswith(("refs/convert/", "refs/pr/")) for change in changes)
    refresh_metadata(hub, repo_id, also=record, touch=touch)
    hub.maintenance.request(hub.git(repo_id))
    moved = [change.ref for change in changes]
    for listener in hub.ref_listeners:
        try:
            listener(hub, repo_id, moved)
        except Exception:  # the write happened: a listener's trouble must not turn it into an error
            log.exception("a listener of repository %s's ref updates failed", repo_id)


def changes_between(before: dict[str, str], after: dict[str, str]) -> list[RefChange]:
    """The refs that differ between two snapshots of a repository's refs."""
    changed = [RefChange(ref, before.get(ref, ZERO_SHA), sha) for ref, sha in after.items() if before.get(ref) != sha]
    return changed + [RefChange(ref, sha, ZERO_SHA) for ref, sha in before.items() if ref not in after]


def repair_after_failure(hub: Hub, repo_id: int) -> None:
    """After a failed write: the ref may have moved before the failure, the metadata not; and what
    dead writers left behind goes (only what is old enough: other writers may be live)."""
    try:
        reconcile_repo(hub, repo_id)
        leftovers.clean_repo(hub, repo_id, leftovers.STALE_AFTER_S)
        leftovers.clean_temp(hub, leftovers.STALE_AFTER_S)
    except Exception:  # repairing must never hide the write's own error
        log.exception("repairing repository %s after a failed write failed", repo_id)


def recover(hub: Hub) -> None:
    """At start, before serving: nothing is live, so every leftover goes and every repository is
    reconciled with its refs (a kill between a ref update and the metadata refresh left it behind)."""
    leftovers.clean_all(hub, None)
    repaired = reconcile_all(hub)
    if repaired:
        log.warning("brought %d repositories in step with git: %s", len(repaired), repaired[:20])


def reconcile_repo(hub: Hub, repo_id: int) -> bool:
    """Refresh the recorded head, card and tags if they differ from the default branch; True if they did."""
    try:
        view = get_repo_by_id(hub, repo_id)
    except NotFound:
        return False
    git = hub.git(repo_id)
    if not git.path.is_dir():
        return False
    head = git.ref_target(f"refs/heads/{view.default_branch}") or ""
    if head == view.head_sha:
        return False
    log.warning("repository %s: database head %s, git head %s; refreshing", repo_id, view.head_sha[:12], head[:12])
    refresh_metadata(hub, repo_id)
    return True


def reconcile_all(hub: Hub) -> list[int]:
    """Reconcile every repository (at start, before serving); returns the ids that were behind."""
    with hub.db() as session:
        ids = list(session.scalars(select(Repo.id).order_by(Repo.id)))
    repaired = []
    for repo_id in ids:
        try:
            # In turn with any writer a killed hub left running (a receive-pack can outlive it and
            # still move a ref); one that holds on for long is left for the next restart.
            with write_lock.hold(hub.repo_path(repo_id), START_WAIT_S):
                if reconcile_repo(hub, repo_id):
                    repaired.append(repo_id)
        except write_lock.WriteLockTimeout:
            log.warning("repository %s is being written to; not reconciled at start", repo_id)
        except Exception:  # one unreadable repository must not keep the hub from starting
            log.exception("reconciling repository %s failed", repo_id)
    return repaired
