from __future__ import annotations

import time

import pytest

from csghub.core.errors import InvalidArgument
from csghub.services.datasets.layout import detect_layout
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
