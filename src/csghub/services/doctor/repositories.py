"""Repositories on disk against their rows: every row has its bare directory and every directory its row,
every repository passes `git fsck`, and the recorded head matches what the default branch names.

With --repair the database is brought in step with the refs (writes.reconcile_repo, under the
repository's write lock, as the hub does at start). Refs and directories are never changed: a broken
ref or a directory without a row is reported with what an administrator can do about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from csghub.db.models import Repo
from csghub.git import checks, write_lock
from csghub.services.context import Hub
from csghub.services.doctor.findings import Problem, Report
from csghub.services.doctor.options import DoctorOptions
from csghub.services.repositories import leftovers
from csghub.services.repositories.writes import START_WAIT_S, reconcile_repo

CHECK = "repositories"
# The object a line of fsck output is about, when it names one (sha-1 or sha-256 repositories).
_OBJECT_ID = re.compile(r"\b[0-9a-f]{40}(?:[0-9a-f]{24})?\b")


@dataclass(frozen=True, slots=True)
class RepoRow:
    id: int
    name: str  # "model:alice/llama"
    default_branch: str
    head_sha: str


def repo_rows(hub: Hub) -> list[RepoRow]:
    with hub.db() as session:
        rows = session.scalars(select(Repo).order_by(Repo.id)).all()
        return [RepoRow(r.id, f"{r.type}:{r.full_name}", r.default_branch, r.head_sha) for r in rows]


def _directories(hub: Hub) -> dict[int, Path]:
    found: dict[int, Path] = {}
    for path in leftovers.repo_dirs(hub):
        stem = path.name.removesuffix(".git")
        if stem.isdigit():
            found[int(stem)] = path
        else:
            found[-len(found) - 1] = path  # a folder the hub never names: reported as unknown
    return found


def check_repositories(hub: Hub, options: DoctorOptions, report: Report) -> dict[int, str]:
    """Run every repository check; returns the names of the repositories by id, for other checks."""
    rows = repo_rows(hub)
    directories = _directories(hub)
    names = {row.id: row.name for row in rows}
    for key, path in sorted(directories.items()):
        if key not in names or path != hub.repo_path(key):
            report.add(
                Problem(
                    CHECK,
                    "orphaned-directory",
                    str(path),
                    f"repository directory {path} has no repository row; it is kept (move it away once "
                    "you know it holds nothing you need)",
                    unfixable="never deleted automatically" if options.repair else "",
                )
            )
    for row in rows:
        report.count("repositories")
        path = hub.repo_path(row.id)
        if row.id not in directories:
            report.add(
                Problem(
                    CHECK,
                    "missing-directory",
                    row.name,
                    f"{row.name}: its git directory {path} is missing; restore it from a backup",
                    repo=row.name,
                    unfixable="the repository's data is gone" if options.repair else "",
                )
            )
            continue
        _check_one(hub, row, path, options, report)
    return names


def _check_one(hub: Hub, row: RepoRow, path: Path, options: DoctorOptions, report: Report) -> None:
    result = checks.fsck(path, connectivity_only=options.quick)
    for ref, what in sorted(result.bad_refs.items()):
        hint = f"; the database last recorded {row.head_sha}" if row.head_sha else ""
        report.add(
            Problem(
                "refs",
                "broken-ref",
                f"{row.name} {ref}",
                f"{row.name}: ref {ref} is broken ({what}){hint}; point it at a good commit with "
                f"`git --git-dir={path} update-ref {ref} <commit>` or restore the repository",
                repo=row.name,
                unfixable="refs are never rewritten automatically" if options.repair else "",
            )
        )
    for line in result.errors:
        named = _OBJECT_ID.search(line)
        report.add(
            Problem(
                "fsck",
                "fsck",
                f"{row.name} {named[0]}" if named else row.name,
                f"{row.name}: git fsck: {line}",
                repo=row.name,
                unfixable="restore the damaged objects from a backup or a clone" if options.repair else "",
            )
        )
    default_ref = f"refs/heads/{row.default_branch}"
    if default_ref in result.bad_refs:
        return  # already named; the database cannot be put in step with a ref that names nothing
    _check_head(hub, row, path, options, report)


def _check_head(hub: Hub, row: RepoRow, path: Path, options: DoctorOptions, report: Report) -> None:
    head = checks.branch_commit(path, row.default_branch) or ""
    if head == row.head_sha:
        return
    if not head and checks.ref_exists(path, f"refs/heads/{row.default_branch}"):
        report.add(
            Problem(
                "refs",
                "broken-ref",
                f"{row.name} refs/heads/{row.default_branch}",
                f"{row.name}: refs/heads/{row.default_branch} names no readable commit",
                repo=row.name,
                unfixable="refs are never rewritten automatically" if options.repair else "",
            )
        )
        return
    # A writer moves the ref first and refreshes the row after, holding the repository's write lock
    # throughout: the difference is confirmed (and repaired) only in the writers' queue, so a push that
    # is under way is not taken for damage.
    repaired = unfixable = ""
    recorded = row.head_sha
    try:
        with write_lock.hold(path, START_WAIT_S):
            head = checks.branch_commit(path, row.default_branch) or ""
            recorded = _recorded_head(hub, row.id)
            if head == recorded:
                return
            if options.repair:
                reconcile_repo(hub, row.id)
                if _recorded_head(hub, row.id) == head:
                    repaired = f"database refreshed from refs/heads/{row.default_branch}"
                else:
                    unfixable = f"refs/heads/{row.default_branch} is gone; recreate it or change the default branch"
    except write_lock.WriteLockTimeout:
        unfixable = "the repository is being written to; run doctor again" if options.repair else ""
    except OSError:
        pass  # the queue cannot be joined (a read-only data directory): reported as first seen
    except Exception as exc:  # one unreadable repository must not stop the run; it is reported
        unfixable = f"reconcile failed: {exc}"
    message = (
        f"{row.name}: the database records head {recorded or '(none)'} but refs/heads/{row.default_branch} "
        f"names {head or '(no branch)'}"
    )
    subject = f"{row.name} refs/heads/{row.default_branch}"
    report.add(Problem("refs", "stale-head", subject, message, row.name, repaired, unfixable))


def _recorded_head(hub: Hub, repo_id: int) -> str:
    with hub.db() as session:
        row = session.get(Repo, repo_id)
        return row.head_sha if row is not None else ""
