"""Counting downloads, as the listings' "most downloads" and "trending" sorts need.

A download is a file fetched through resolve or a git clone/fetch, counted once per repository,
client address and hour so that a snapshot of many files counts as one. Counts gather in memory
and are written in one short transaction every few seconds, off the request path.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from csghub.db.models import Repo, RepoDownloadDay
from csghub.services.context import Hub

TRENDING_DAYS = 7
CHART_DAYS = 30


def count_download(hub: Hub, repo_id: int, address: str) -> None:
    """One download of a repository from `address`; written to the database by the next flush."""
    hub.downloads.hit(repo_id, address)


def flush(hub: Hub) -> int:
    """Write the counted downloads; returns how many. Safe to call from several processes."""
    pending = hub.downloads.take()
    for (repo_id, day), count in pending.items():
        for _attempt in range(3):
            try:
                _add(hub, repo_id, day, count)
                break
            except IntegrityError:
                continue  # another process inserted the day's row first: add to it
    return sum(pending.values())


def _add(hub: Hub, repo_id: int, day: date, count: int) -> None:
    with hub.db() as session:
        if session.get(Repo, repo_id) is None:
            return  # deleted meanwhile
        done = session.execute(
            update(RepoDownloadDay)
            .where(RepoDownloadDay.repo_id == repo_id, RepoDownloadDay.day == day)
            .values(count=RepoDownloadDay.count + count)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            session.add(RepoDownloadDay(repo_id=repo_id, day=day, count=count))
        session.execute(update(Repo).where(Repo.id == repo_id).values(downloads=Repo.downloads + count))


def trending_since() -> date:
    return datetime.now(UTC).date() - timedelta(days=TRENDING_DAYS - 1)


def daily_downloads(hub: Hub, repo_id: int, days: int = CHART_DAYS) -> list[tuple[date, int]]:
    """The repository's downloads of each of the last `days` days (UTC, today last), zero where none
    were counted: the card's chart. The caller has read the repository (its page authorized it)."""
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    with hub.db() as session:
        rows = session.execute(
            select(RepoDownloadDay.day, RepoDownloadDay.count).where(
                RepoDownloadDay.repo_id == repo_id, RepoDownloadDay.day >= first
            )
        )
        counted = {day: count for day, count in rows}
    return [(first + timedelta(days=i), counted.get(first + timedelta(days=i), 0)) for i in range(days)]
