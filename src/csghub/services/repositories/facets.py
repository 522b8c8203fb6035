"""A listing's filters by card metadata: which filters each repository type has, the tag each filter
value matches (cards.py derive_tags writes them), and the values public repositories use most, which the
portal suggests."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from csghub.core.names import RepoType
from csghub.db.models import Repo
from csghub.services.context import Hub

# The filters and the card field each looks at: a model's, and a dataset's as the Hub's cards name them.
FACET_FIELDS = {"task": "pipeline_tag", "library": "library_name", "license": "license", "language": "language"}
DATASET_FACET_FIELDS = {
    "task": "task_categories",
    "subtask": "task_ids",
    "language": "language",
    "size": "size_categories",
    "license": "license",
}
# A space's: its SDK (tagged bare, as the Hub tags spaces: cards.py) and license.
SPACE_FACET_FIELDS = {"sdk": "sdk", "license": "license"}
FACET_SCAN = 20_000


def facet_fields(repo_type: RepoType) -> dict[str, str]:
    if repo_type is RepoType.SPACE:
        return SPACE_FACET_FIELDS
    return DATASET_FACET_FIELDS if repo_type is RepoType.DATASET else FACET_FIELDS


def facet_tag(repo_type: RepoType, facet: str, value: str) -> str:
    """The tag a listing's filter looks for: a dataset's card fields are tagged `<field>:<value>` as the
    Hub tags them (`task_categories:translation`, `language:en`), a model's task, library and language
    bare; a license is `license:<id>` everywhere."""
    if facet != "license" and repo_type is not RepoType.DATASET:
        return value
    prefix = "license" if facet == "license" else DATASET_FACET_FIELDS.get(facet, facet)
    # huggingface_hub passes `language="language:en"` on as given when the caller wrote the prefix.
    return value if value.startswith(f"{prefix}:") else f"{prefix}:{value}"


def facets(hub: Hub, repo_type: RepoType, *, top: int = 30) -> dict[str, list[tuple[str, int]]]:
    """The most common values of each filter among public repositories, for the listing's suggestions.

    Public repositories only, so suggestions never hint at what a viewer may not see; recomputed at
    most once a minute per type. A dataset's are counted from its tags, which hold what its filters
    match, the size category of its row count included; a model's from its card.
    """
    cached: dict[str, list[tuple[str, int]]] | None = hub.facets.get(repo_type.value)
    if cached is not None:
        return cached
    fields = facet_fields(repo_type)
    counts: dict[str, dict[str, int]] = {name: {} for name in fields}
    stmt = (
        select(Repo.card_data, Repo.tags)
        .where(Repo.type == repo_type.value, Repo.visibility == "public")
        .order_by(Repo.updated_at.desc())
        .limit(FACET_SCAN)
    )
    by_tag = repo_type is RepoType.DATASET
    with hub.db() as session:
        for raw_card, raw_tags in session.execute(stmt):
            card = json.loads(raw_card or "{}")
            tags = json.loads(raw_tags or "[]") if by_tag else []
            for name, key in fields.items():
                values: Any
                if by_tag:
                    values = [t[len(key) + 1 :] for t in tags if isinstance(t, str) and t.startswith(f"{key}:")]
                else:
                    values = card.get(key)
                for value in values if isinstance(values, list) else [values]:
                    if isinstance(value, str) and value:
                        counts[name][value] = counts[name].get(value, 0) + 1
    found = {name: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:top] for name, c in counts.items()}
    hub.facets.put(repo_type.value, found)
    return found
