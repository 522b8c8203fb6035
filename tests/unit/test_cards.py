from __future__ import annotations

import pytest

from csghub.core.errors import InvalidArgument
from csghub.services.repositories.cards import derive_tags, parse_card_data, split_front_matter, validate_card_yaml


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


@pytest.mark.parametrize("text", ["---\nlicense: [unclosed\n---\n", "- just\n- a list\n", "tags: {a: 1}\n"])
def test_validate_card_yaml_rejects_invalid_metadata(text: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_card_yaml(text)


def test_derive_tags_names_dataset_tasks_as_the_hub_does() -> None:
    card = {"task_categories": ["text-classification", "translation"], "task_ids": "sentiment-classification"}
    assert derive_tags(card, []) == [
        "task_categories:text-classification",
        "task_categories:translation",
        "task_ids:sentiment-classification",
    ]
