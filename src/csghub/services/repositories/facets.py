"""A listing's filters by card metadata: which filters each repository type has and the tag each filter
value matches (cards.py derive_tags writes them). Their values and counts: facet_counts.py."""

from __future__ import annotations

from csghub.core.names import RepoType

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
