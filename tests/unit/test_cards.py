from __future__ import annotations

import time

import pytest

from csghub.core.errors import InvalidArgument
from csghub.services.datasets.layout import detect_layout
from csghub.services.repositories.cards import (
    derive_tags,
    parse_card_data,
    size_category,
    split_front_matter,
    validate_card_yaml,
)


def test_parse_card_data_reads_front_matter() -> None:
    card = parse_card_data("---\nlicense: mit\ntags: [a, b]\ndate: 2024-01-02\n---\n# Title\n")
    assert card == {"license": "mit", "tags": ["a", "b"], "date": "2024-01-02"}


@pytest.mark.parametrize("text", ["# no front matter", "---\n: [bad\n---\n", "---\n- a list\n---\n", "---\nunclosed"])
def test_parse_card_data_is_empty_for_missing_or_invalid_yaml(text: str) -> None:
    assert parse_card_data(text) == {}


def test_split_front_matter_returns_body() -> None:
    front, body = split_front_matter("---\na: 1\n---\nbody\n")
    assert front == "a: 1\n" and body == "body\n"


def test_derive_tags_from_card_and_file_names() -> None:
    card = {
        "license": "apache-2.0",
        "tags": ["chat"],
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "datasets": "squad",
        "language": ["en", "zh"],
        "base_model": "org/base",
    }
    tags = derive_tags(card, ["model.safetensors", "model.gguf", "sub/pytorch_model.bin", "x.onnx"])
    assert tags == [
        "transformers",
        "safetensors",
        "gguf",
        "pytorch",
        "onnx",
        "chat",
        "text-generation",
        "dataset:squad",
        "base_model:org/base",
        "en",
        "zh",
        "license:apache-2.0",
    ]


def test_validate_card_yaml_accepts_readme_with_front_matter() -> None:
    assert validate_card_yaml("---\nlicense: mit\n---\n# hi\n") == {"license": "mit"}


@pytest.mark.parametrize(
    "text", ["---\nlicense: [unclosed\n---\n", "---\n- just\n- a list\n---\n", "tags: {a: 1}\n", "a: " + "[" * 5000]
)
def test_validate_card_yaml_rejects_invalid_metadata(text: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_card_yaml(text)


@pytest.mark.parametrize(
    "text",
    [
        "A tiny model, trained on CPU.\n",
        "Trained for: three epochs.\nLoss: [see the chart\n",
        "- a README that opens with a list\n- of features\n",
        "<p align=center><img src=logo.png></p>\n",
    ],
)
def test_a_readme_of_prose_without_front_matter_has_no_metadata_to_refuse(text: str) -> None:
    # huggingface_hub's RepoCard.validate() sends the whole README; without front matter it has no metadata.
    assert validate_card_yaml(text) == {}


def test_derive_tags_names_dataset_tasks_as_the_hub_does() -> None:
    card = {"task_categories": ["text-classification", "translation"], "task_ids": "sentiment-classification"}
    assert derive_tags(card, []) == [
        "task_categories:text-classification",
        "task_categories:translation",
        "task_ids:sentiment-classification",
    ]


def _alias_bomb(levels: int, width: int) -> str:
    """A card whose aliases expand to width**levels values ("billion laughs")."""
    lines = [f"l0: &l0 [{', '.join(['x'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    lines.append(f"configs:\n- config_name: default\n  data_files: *l{levels - 1}")
    return "---\n" + "\n".join(lines) + "\n---\n# Card\n"


def test_a_card_whose_aliases_expand_past_the_bound_is_no_metadata() -> None:
    bomb = _alias_bomb(levels=9, width=9)  # 387 million values from a dozen lines
    started = time.monotonic()
    assert parse_card_data(bomb) == {}
    assert detect_layout({"train.csv": 10}, bomb).configs[0].name == "default"  # the file names decide
    with pytest.raises(InvalidArgument, match="expands to more than"):
        validate_card_yaml(bomb)
    assert time.monotonic() - started < 2.0


def test_a_card_with_a_few_aliases_still_reads() -> None:
    card = parse_card_data("---\nbase: &b {license: mit}\nother: *b\ntags: [a, b]\n---\n")
    assert card == {"base": {"license": "mit"}, "other": {"license": "mit"}, "tags": ["a", "b"]}
    assert parse_card_data(_alias_bomb(levels=3, width=9))["configs"][0]["data_files"][0][0] == ["x"] * 9


def test_derive_tags_of_a_dataset_prefix_its_card_fields_as_the_hub_does() -> None:
    card = {
        "task_categories": "text-classification",
        "task_ids": ["sentiment-classification"],
        "language": ["en", "zh"],
        "size_categories": ["1K<n<10K"],
        "license": "mit",
    }
    assert derive_tags(card, [], dataset=True) == [
        "task_categories:text-classification",
        "task_ids:sentiment-classification",
        "language:en",
        "language:zh",
        "size_categories:1K<n<10K",
        "license:mit",
    ]
    # A model's languages stay bare, as the Hub tags them.
    assert derive_tags({"language": "en"}, []) == ["en"]


def test_derive_tags_of_a_dataset_give_the_row_counts_size_category_unless_the_card_has_one() -> None:
    assert derive_tags({}, [], dataset=True, num_rows=2_500) == ["size_categories:1K<n<10K"]
    assert derive_tags({"size_categories": "n<1K"}, [], dataset=True, num_rows=2_500) == ["size_categories:n<1K"]
    assert derive_tags({}, [], dataset=True) == []
    assert derive_tags({}, [], num_rows=2_500) == [], "models have no size category"


@pytest.mark.parametrize(
    ("rows", "category"),
    [
        (0, "n<1K"),
        (999, "n<1K"),
        (1_000, "1K<n<10K"),
        (9_999, "1K<n<10K"),
        (10_000, "10K<n<100K"),
        (2_000_000, "1M<n<10M"),
        (999_999_999_999, "100B<n<1T"),
        (10**12, "n>1T"),
    ],
)
def test_size_category_follows_the_hubs_bounds(rows: int, category: str) -> None:
    assert size_category(rows) == category
