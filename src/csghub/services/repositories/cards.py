"""Model cards: README.md front matter becomes cardData, and cardData plus file names become tags."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from csghub.core.errors import InvalidArgument

# File name endings that tell which library a repository is for.
_LIBRARY_BY_SUFFIX = {
    ".safetensors": "safetensors",
    ".gguf": "gguf",
    ".onnx": "onnx",
    ".bin": "pytorch",
    ".pt": "pytorch",
    ".pth": "pytorch",
}


# A dataset card's fields that the Hub turns into "<key>:<value>" tags, in its order, so that
# `filter=task_categories:...`, `filter=language:en` or `filter=size_categories:1K<n<10K` finds them.
DATASET_TAG_KEYS = ("task_categories", "task_ids", "language", "size_categories")

# The Hub's size categories of a dataset, by row count: (upper bound, exclusive; name).
_SIZE_CATEGORIES = (
    (10**3, "n<1K"),
    (10**4, "1K<n<10K"),
    (10**5, "10K<n<100K"),
    (10**6, "100K<n<1M"),
    (10**7, "1M<n<10M"),
    (10**8, "10M<n<100M"),
    (10**9, "100M<n<1B"),
    (10**10, "1B<n<10B"),
    (10**11, "10B<n<100B"),
    (10**12, "100B<n<1T"),
)
SIZE_CATEGORIES = (*(name for _, name in _SIZE_CATEGORIES), "n>1T")


def size_category(num_rows: int) -> str:
    """The Hub's size category of a dataset with `num_rows` rows ('1K<n<10K' for 1,000 to 9,999)."""
    for bound, name in _SIZE_CATEGORIES:
        if num_rows < bound:
            return name
    return SIZE_CATEGORIES[-1]


def split_front_matter(text: str) -> tuple[str | None, str]:
    """The YAML between leading '---' lines, and the rest of the document."""
    if not text.startswith("---"):
        return None, text
    lines = text.splitlines(keepends=True)
    if lines[0].strip() != "---":
        return None, text
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "".join(lines[1:i]), "".join(lines[i + 1 :])
    return None, text


# libyaml's loader is C (fast on every push's card) and refuses nesting past 1000 levels at once, where
# PyYAML's pure-Python one recurses for seconds before it gives up.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# Nodes a card may hold once its aliases are expanded. Aliases let a few lines stand for billions of nodes
# ("billion laughs"): loading shares them, but everything that then walks the card (tags, JSON, the
# dataset viewer's configs) would expand them, for minutes and gigabytes, on every push.
MAX_CARD_NODES = 100_000


class CardTooLarge(yaml.YAMLError):
    pass


def _check_expansion(text: str) -> None:
    """Count the nodes the document expands to, from libyaml's event stream (nothing is built)."""
    expanded = 0
    sizes: dict[str, int] = {}
    opened: list[tuple[int, str | None]] = []  # where each open collection's nodes started, and its anchor
    for event in yaml.parse(text, Loader=_YAML_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            opened.append((expanded, event.anchor))
            expanded += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            start, anchor = opened.pop()
            if anchor is not None:
                sizes[anchor] = expanded - start
        elif isinstance(event, yaml.ScalarEvent):
            expanded += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            expanded += sizes.get(event.anchor or "", 1)
        if expanded > MAX_CARD_NODES:
            raise CardTooLarge(f"The metadata expands to more than {MAX_CARD_NODES:,} values (through its aliases)")


def _load_yaml(text: str) -> Any:
    _check_expansion(text)
    return yaml.load(text, Loader=_YAML_LOADER)


def parse_card_data(readme: str) -> dict[str, Any]:
    """Front matter as a dict; invalid YAML yields {} so a bad card never blocks a push."""
    yaml_text, _ = split_front_matter(readme)
    if yaml_text is None:
        return {}
    try:
        data = _load_yaml(yaml_text)
    except (yaml.YAMLError, RecursionError):  # PyYAML composes nested collections recursively
        return {}
    return _jsonable(data) if isinstance(data, dict) else {}


def validate_card_yaml(content: str) -> dict[str, Any]:
    """Strict validation for the validate-yaml endpoint (a README or bare YAML): errors name the problem.

    A README's metadata is its front matter. Without front matter the text is either bare metadata (a
    YAML mapping, validated as front matter would be) or prose, which has no metadata to refuse."""
    front, _ = split_front_matter(content)
    if front is None:
        return _bare_metadata(content)
    data = _strict_load(front)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidArgument("Model card metadata must be a YAML mapping")
    return _checked_fields(data)


def _bare_metadata(content: str) -> dict[str, Any]:
    if content.lstrip().startswith("#"):
        return {}  # a README that opens with a heading
    try:
        data = _load_yaml(content)
    except (CardTooLarge, RecursionError):  # bounds, not prose: refused whatever the text meant to be
        return _strict_load(content)
    except yaml.YAMLError as exc:
        if "nesting" in str(exc):
            raise InvalidArgument(f"Invalid YAML in model card metadata: {exc}") from None
        return {}
    return _checked_fields(data) if isinstance(data, dict) else {}


def _strict_load(text: str) -> Any:
    try:
        return _load_yaml(text)
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"Invalid YAML in model card metadata: {exc}") from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise InvalidArgument("Model card metadata is nested too deeply") from None


def _checked_fields(data: dict[Any, Any]) -> dict[str, Any]:
    for key in ("tags", "datasets", "language"):
        value = data.get(key)
        if value is not None and not isinstance(value, str | list):
            raise InvalidArgument(f"Model card metadata field '{key}' must be a string or a list")
    return _jsonable(data)


def _jsonable(value: Any) -> Any:
    """YAML dates and other scalars become strings so cardData always serializes as JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [str(value)]


# The SDKs a space's card may name (`sdk:`), as on the Hugging Face Hub; a space is tagged with its SDK.
SPACE_SDKS = ("gradio", "streamlit", "static", "docker")


def derive_tags(
    card: dict[str, Any],
    file_paths: Iterable[str],
    *,
    dataset: bool = False,
    space: bool = False,
    num_rows: int | None = None,
) -> list[str]:
    """The tags listings show and filter on. A dataset's card fields are prefixed as the Hub tags them
    (`language:en`, not `en` as for a model); without a size category in its card, a dataset gets the
    one of `num_rows`, its row count as converted (services/datasets). A space's first tag is its SDK
    (`gradio`), as the Hub tags spaces."""
    tags: list[str] = []

    def add(tag: str) -> None:
        if tag and tag not in tags:
            tags.append(tag)

    if space and str(card.get("sdk", "")).lower() in SPACE_SDKS:
        add(str(card["sdk"]).lower())

    for name in _as_list(card.get("library_name")):
        add(name)
    for path in file_paths:
        for suffix, library in _LIBRARY_BY_SUFFIX.items():
            if path.endswith(suffix):
                add(library)
    for tag in _as_list(card.get("tags")):
        add(tag)
    if card.get("pipeline_tag"):
        add(str(card["pipeline_tag"]))
    for key in DATASET_TAG_KEYS if dataset else DATASET_TAG_KEYS[:2]:
        for value in _as_list(card.get(key)):
            add(f"{key}:{value}")
    if dataset and num_rows is not None and not _as_list(card.get("size_categories")):
        add(f"size_categories:{size_category(num_rows)}")
    for trained_on in _as_list(card.get("datasets")):
        add(f"dataset:{trained_on}")
    for base in _as_list(card.get("base_model")):
        add(f"base_model:{base}")
    if not dataset:
        for lang in _as_list(card.get("language")):
            add(lang)
    for lic in _as_list(card.get("license")):
        add(f"license:{lic}")
    return tags
