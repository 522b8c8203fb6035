"""A listing's filter chips: for each facet (task, library, license, language, size...), its values
with how many repositories each would leave, as the viewer sees them and with the other chosen filters
applied (a chosen value of the same facet is swapped, not added, so it does not narrow its own counts).

Counts come from the same query the listing runs (repos.scan_repos: the viewer's visibility filter, the
search text, the owner), so a repository the viewer may not read is never counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoType
from csghub.services.context import Hub
from csghub.services.permissions import Actor
from csghub.services.repositories import repos
from csghub.services.repositories.facets import FACET_SCAN, facet_fields, facet_tag

GB = 1000**3
# The size facet: bytes stored in LFS/Xet, as the portal shows sizes (powers of 1000).
SIZE_FACET = "storage"
SIZE_BUCKETS: dict[str, tuple[int, int | None]] = {"<1GB": (0, GB), "1-10GB": (GB, 10 * GB), ">10GB": (10 * GB, None)}
TOP = 12


@dataclass(frozen=True, slots=True)
class Chip:
    facet: str
    value: str
    count: int
    selected: bool


def chip_facets(repo_type: RepoType) -> list[str]:
    """The facets a listing of this type offers as chips, in the order the page shows them."""
    return [*facet_fields(repo_type), SIZE_FACET]


def size_range(value: str) -> tuple[int, int | None]:
    try:
        return SIZE_BUCKETS[value]
    except KeyError:
        raise InvalidArgument(f"Unknown size '{value}': use one of {', '.join(SIZE_BUCKETS)}") from None


def size_bucket(size: int) -> str:
    return next(name for name, (low, high) in SIZE_BUCKETS.items() if size >= low and (high is None or size < high))


def narrowed(query: repos.RepoQuery, chosen: dict[str, str]) -> repos.RepoQuery:
    """`query` with the chosen facet values as the listing's filters (tags, stored size)."""
    tags = tuple(facet_tag(query.repo_type, f, v) for f, v in chosen.items() if v and f != SIZE_FACET)
    stored = size_range(chosen[SIZE_FACET]) if chosen.get(SIZE_FACET) else None
    return replace(query, tags=query.tags + tags, stored=stored)


def _values(repo_type: RepoType, card: dict[str, Any], tags: list[str], size: int) -> dict[str, set[str]]:
    """What a repository holds for each facet: values a filter on it would match (its tags say so)."""
    found: dict[str, set[str]] = {SIZE_FACET: {size_bucket(size)}}
    by_tag = repo_type is RepoType.DATASET
    for facet, key in facet_fields(repo_type).items():
        raw: Any = [t[len(key) + 1 :] for t in tags if t.startswith(f"{key}:")] if by_tag else card.get(key)
        values = {str(v) for v in (raw if isinstance(raw, list) else [raw]) if isinstance(v, str | int) and str(v)}
        # A card value counts only when the listing's tag filter would find it (the two agree by design).
        found[facet] = {v for v in values if facet_tag(repo_type, facet, v) in tags}
    return found


def count_chips(
    hub: Hub, actor: Actor, query: repos.RepoQuery, chosen: dict[str, str], *, top: int = TOP
) -> dict[str, list[Chip]]:
    """Each facet's chips: its `top` values by count, and the chosen one even when nothing has it.

    `query` is the listing's without the chosen facets (its text, owner and free tags); one scan of
    at most FACET_SCAN visible repositories answers every facet. Nothing is kept between pages: a
    count kept even a minute could still include a repository made private since, in any process.
    """
    return _count_chips(hub, actor, query, chosen, top)


def _count_chips(
    hub: Hub, actor: Actor, query: repos.RepoQuery, chosen: dict[str, str], top: int
) -> dict[str, list[Chip]]:
    facets = chip_facets(query.repo_type)
    counts: dict[str, dict[str, int]] = {f: {} for f in facets}
    for raw_card, raw_tags, size in repos.scan_repos(hub, actor, query, limit=FACET_SCAN):
        card, tags = json.loads(raw_card), json.loads(raw_tags)
        held = _values(query.repo_type, card if isinstance(card, dict) else {}, [str(t) for t in tags], size)
        misses = [f for f in facets if chosen.get(f) and chosen[f] not in held[f]]
        if len(misses) > 1:
            continue  # another chosen filter already leaves it out of every facet's counts
        for facet in facets:
            if misses and misses[0] != facet:
                continue
            for value in held[facet]:
                counts[facet][value] = counts[facet].get(value, 0) + 1
    chips: dict[str, list[Chip]] = {}
    for facet in facets:
        ranked = sorted(counts[facet].items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        if facet == SIZE_FACET:  # buckets read best small to large
            ranked = [(name, counts[facet][name]) for name in SIZE_BUCKETS if name in counts[facet]]
        pick = chosen.get(facet, "")
        if pick and pick not in dict(ranked):
            ranked.append((pick, counts[facet].get(pick, 0)))
        chips[facet] = [Chip(facet, value, count, value == pick) for value, count in ranked]
    return chips
