"""One search over everything the hub holds: repositories of each type, people and organizations.

Owns no rows: it asks the listings (repos.list_repos, repos.count_repos) with the viewer, so what a
viewer may not read is neither shown nor counted, by the same SQL filter every listing uses. People
and organizations are public (their profiles are), disabled accounts aside.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select

from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoType
from csghub.db.models import Namespace, User
from csghub.services.context import Hub
from csghub.services.permissions import Actor
from csghub.services.repositories import repos

TYPES = (RepoType.MODEL, RepoType.DATASET, RepoType.SPACE, RepoType.CODE)
MAX_TEXT = 200
QUICK_LIMIT = 8


@dataclass(frozen=True, slots=True)
class Section:
    """The repositories of one type that match: how many, and the first few."""

    repo_type: RepoType
    total: int
    repos: list[repos.RepoView]


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    full_name: str
    kind: str  # "user" | "org"


@dataclass(frozen=True, slots=True)
class Results:
    text: str
    sections: list[Section]
    people: list[Person]

    @property
    def total(self) -> int:
        return sum(s.total for s in self.sections) + len(self.people)


def _checked(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise InvalidArgument(f"The search is longer than {MAX_TEXT} characters")
    return text


def _sections(hub: Hub, actor: Actor, text: str, per_type: int, sort: str) -> list[Section]:
    # The listing's own query (same text match), so a type's "see all" link continues it; one statement
    # for all four types, as the dropdown asks on every pause in typing.
    query = repos.RepoQuery(repo_type=RepoType.MODEL, text=text, sort=sort)
    found = repos.list_each_type(hub, actor, query, per_type=per_type)
    return [Section(t, found[t][1], found[t][0]) for t in TYPES]


def find_people(hub: Hub, text: str, *, limit: int) -> list[Person]:
    """Users and organizations whose name or full name holds `text`; none for an empty search."""
    if not text or limit <= 0:
        return []
    needle = f"%{text.lower()}%"
    stmt = (
        select(Namespace.name, Namespace.full_name, Namespace.kind)
        .outerjoin(User, User.id == Namespace.id)
        .where(or_(Namespace.name_key.like(needle), func.lower(Namespace.full_name).like(needle)))
        .where(or_(User.id.is_(None), User.disabled.is_(False)))
        # Exact and prefix matches first: typing a whole name finds that account at the top.
        .order_by(
            (Namespace.name_key != text.lower()), ~Namespace.name_key.startswith(text.lower()), Namespace.name_key
        )
        .limit(limit)
    )
    with hub.db() as session:
        return [Person(name, full_name or "", kind) for name, full_name, kind in session.execute(stmt)]


def search_everything(hub: Hub, actor: Actor, text: str, *, per_type: int = 5) -> Results:
    """The full results page: each repository type with its count and first `per_type`, and people."""
    text = _checked(text)
    sections = _sections(hub, actor, text, per_type, "trendingScore")
    return Results(text, sections, find_people(hub, text, limit=per_type * 2))


def quick_search(hub: Hub, actor: Actor, text: str, *, limit: int = QUICK_LIMIT) -> Results:
    """The header's dropdown: at most `limit` results over all types, shared out so that each type
    that matches gets a turn before any gets a second one; the counts are the full ones."""
    text = _checked(text)
    if not text:
        return Results(text, [Section(t, 0, []) for t in TYPES], [])
    found = _sections(hub, actor, text, limit, "downloads")
    people = find_people(hub, text, limit=limit)
    sizes = [len(s.repos) for s in found] + [len(people)]
    taken = [0] * len(sizes)
    budget = limit
    while budget and any(taken[i] < size for i, size in enumerate(sizes)):
        for i, size in enumerate(sizes):
            if budget and taken[i] < size:
                taken[i] += 1
                budget -= 1
    sections = [Section(s.repo_type, s.total, s.repos[: taken[i]]) for i, s in enumerate(found)]
    return Results(text, sections, people[: taken[-1]])
